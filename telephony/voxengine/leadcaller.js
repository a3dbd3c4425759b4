/*
 * Leadcaller: VoxEngine scenario that places one automatic call to a web lead.
 *
 * The Django service starts this scenario with StartScenarios and reads the outcome from
 * the callback it posts back. One session handles one call attempt.
 *
 * Custom data (script_custom_data, read with VoxEngine.customData()): a compact JSON object
 *   {"attempt_id": 123, "token": "<attempt HMAC>", "callback_url": "https://host/api/v1/telephony/voximplant/callback/",
 *    "phone": "+79120000000"}                          phone is optional (dropped when the data grows too big)
 * Any call setting listed below may also be put in the custom data; it is then used as a fallback
 * when the settings request fails. The voicemail action may come as "vm": "m" (message) or "r" (recording).
 *
 * Settings: GET <callback_url>?attempt_id=<id>&token=<token>, Accept: application/json, answers
 *   {"phone", "caller_id", "recording_url", "tts_text", "tts_voice", "amd_model", "amd_timeout_ms",
 *    "callback_digit", "key_wait_seconds", "disclosure_url", "disclosure_text", "opt_out_digit", "opt_out_text",
 *    "voicemail_action", "voicemail_url", "scenario_version"}
 * The request is tried up to 4 times (1 s, 2 s, 4 s apart, each given 6 s). If it never succeeds and there
 * is no phone and caller id to fall back on, the attempt is reported as failed ("settings unavailable").
 * A scenario_version other than this file's SCENARIO_VERSION is logged and reported; the call goes ahead.
 *
 * The call: callPSTN(phone, caller_id) with an answering machine detector (AMD).
 *   - not answered (CallEvents.Failed): 486/603 -> busy; 408/480/487 -> no_answer; anything else -> failed
 *     (404/484 invalid number, 402 insufficient funds, ...); detail "<code> <reason>".
 *   - answered, AMD says VOICEMAIL -> voicemail_action "hang_up" (the default): hang up, voicemail "amd:VOICEMAIL".
 *     "message" or "recording": wait for the beep (Call.enableBeepDetection; CallEvents.BeepDetectionComplete,
 *     also on its timeout, or BeepDetectionError), then play the message (recording_url, or tts_text spoken) or
 *     the voicemail recording (voicemail_url; the message when there is none), no disclosure and no keys, hang
 *     up -> voicemail "amd:VOICEMAIL, message left" (or "..., hung up while leaving the message").
 *   - answered, AMD says HUMAN or TIMEOUT (or fails: "amd error: ...") -> the disclosure first (disclosure_url,
 *     or disclosure_text spoken: who calls, that the call is automated, which key stops further calls), then
 *     recording_url (or tts_text spoken); keys are collected from the disclosure on; wait key_wait_seconds after
 *     the message, hang up -> human with the keys pressed. The callback digit ends the call at once (playback
 *     is stopped).
 *   - the opt-out digit, pressed at any time from the disclosure to the end of the wait -> playback stopped,
 *     opt_out_text spoken, hang up -> opted_out with the keys pressed (also when the callee hangs up first).
 *     It is checked before the callback digit, should a misconfiguration make them equal.
 *   - AMD says CALL_ENDED, or the callee hangs up before AMD decided -> no_answer "hung up during detection".
 *
 * Report: one result per session, POST <callback_url> with a JSON body
 *   {"attempt_id", "token", "result", "duration", "digits", "call_session_history_id", "detail",
 *    "scenario_version", "version_mismatch"}
 * result is one of human, voicemail, no_answer, busy, failed, opted_out; duration is the connected time in seconds
 * (0 when never answered). A 2xx answer ends the session; 400 and 403 are final; anything else (other
 * status, or a VoxEngine network error code <= 0) is retried, 4 tries in all, 1 s, 3 s and 9 s apart,
 * each given 8 s. While no try succeeded, AppEvents.Terminating sends the same body once more: whether
 * the scenario gave up, or VoxEngine ended the session (60 s without a call) before a retry's timer fired.
 * The session always ends with VoxEngine.terminate(). A safety timer reports "failed"/"scenario timeout"
 * when nothing was reported after 180 s.
 *
 * No secret lives here: the token is the attempt's own HMAC, checked by the server.
 */
(function leadcallerScenario() {
  'use strict';

  // Raised whenever what the scenario does or sends changes; the server names the version it expects
  // (telephony/scenario.py reads this line), so an old upload shows instead of misbehaving.
  var SCENARIO_VERSION = 4;

  // Net.httpRequestAsync timeouts, in seconds (VoxEngine's unit; its defaults, 90 s and 6 s to connect, can only be
  // lowered). A session without a call is ended 60 s after its start or after its call ended, so: the settings
  // fetch takes at most 4 x 6 s + 7 s of pauses = 31 s, and the report at most 4 x 8 s + 13 s = 45 s.
  var CONNECT_TIMEOUT_S = 4;
  var SETTINGS_TIMEOUT_S = 6;
  var REPORT_TIMEOUT_S = 8;
  var SETTINGS_RETRY_DELAYS_MS = [1000, 2000, 4000];
  var REPORT_RETRY_DELAYS_MS = [1000, 3000, 9000];
  var SAFETY_TIMEOUT_MS = 180000;
  var HANGUP_GRACE_MS = 5000; // how long to wait for Disconnected (and its duration) after our own hangup
  var MAX_KEY_WAIT_SECONDS = 60;
  var MAX_AMD_TIMEOUT_MS = 20000;
  var DEFAULT_VOICE_PATHS = ['YandexV3.ru_RU_alena', 'Amazon.ru_RU_Tatyana'];
  var OPT_OUT_MAX_MS = 15000; // the confirmation's longest say; then the call is ended whatever VoxEngine reports
  var BEEP_TIMEOUT_MS = 20000; // how long a voicemail greeting may run before the message is left anyway
  var VOICEMAIL_MAX_MS = 90000; // a message left on voicemail is cut off after this long

  // Types for the check against VoxImplant's typings (README.md, "Type check"); VoxEngine ignores them.
  /**
   * @typedef {{phone: string, caller_id: string, recording_url: string, tts_text: string, tts_voice: string,
   *   amd_model: string, amd_timeout_ms: number, callback_digit: string, key_wait_seconds: number,
   *   disclosure_url: string, disclosure_text: string, opt_out_digit: string, opt_out_text: string,
   *   voicemail_action: string, voicemail_url: string}} CallSettings
   * @typedef {{url: string, text: string}} Segment  one thing to play: a recording, else (or if it fails) the text
   * @typedef {{[key: string]: unknown}} JsonObject  the settings answer, as parsed
   * @typedef {JsonObject & {attempt_id: number, token: string, callback_url: string}} CustomData  as the server built it
   * @typedef {{attempt_id: number, token: string, result: string, duration: number, digits: string,
   *   call_session_history_id: number, detail: string, scenario_version: number, version_mismatch: boolean}} Report
   */

  /** @type {CallSettings} */
  var DEFAULT_SETTINGS = {
    phone: '',
    caller_id: '',
    recording_url: '',
    tts_text: '',
    tts_voice: '',
    amd_model: 'ru',
    amd_timeout_ms: 6500,
    callback_digit: '1',
    key_wait_seconds: 5,
    // Used only when the server's settings never came: the server sends the site's own (telephony/disclosure.py).
    disclosure_url: '',
    disclosure_text: 'Это автоматический звонок. Если вы не хотите, чтобы мы вам звонили, нажмите 9.',
    opt_out_digit: '9',
    opt_out_text: 'Мы больше не будем вам звонить. До свидания.',
    voicemail_action: 'hang_up', // or "message" (the call's recording) or "recording" (voicemail_url) after the beep
    voicemail_url: ''
  };
  // Never emptied by a "" from the server or the custom data: no call goes without its disclosure and opt-out.
  var NEVER_EMPTY = ['phone', 'caller_id', 'disclosure_text', 'opt_out_digit', 'opt_out_text'];

  /**
   * @type {{custom: CustomData | null, settings: CallSettings | null, sessionId: number | null, call: Call | null,
   *   connected: boolean, connectedAt: number, callEnded: boolean, duration: number, amdDone: boolean,
   *   person: boolean, personDetail: string, messageStarted: boolean, playing: boolean, segments: Segment[],
   *   current: Segment | null, optingOut: boolean, voicemail: boolean,
   *   digits: string, result: string | null, detail: string, expectedVersion: number | null,
   *   reportStarted: boolean, reportSettled: boolean, lastReportSent: boolean, terminated: boolean,
   *   timers: {[name: string]: number | null}}}
   */
  var state = {
    custom: null,
    settings: null,
    sessionId: null,
    call: null,
    connected: false,
    connectedAt: 0,
    callEnded: false,
    duration: 0,
    amdDone: false,
    person: false,
    personDetail: '',
    messageStarted: false,
    playing: false,
    segments: [], // what is still to play: the disclosure, then the message
    current: null, // what is playing
    optingOut: false, // the opt-out key was pressed: the confirmation plays, then the call ends
    voicemail: false, // a voicemail answered and a message is left on it (voicemail_action)
    digits: '',
    result: null,
    detail: '',
    expectedVersion: null, // the scenario_version the server's settings answer named
    reportStarted: false,
    reportSettled: false, // the server took the report (2xx) or refused it for good (400, 403)
    lastReportSent: false, // the one request AppEvents.Terminating allows
    terminated: false,
    timers: { safety: null, keyWait: null, hangupGrace: null, optOut: null, voicemail: null }
  };

  VoxEngine.addEventListener(AppEvents.Started, onStarted);
  VoxEngine.addEventListener(AppEvents.Terminating, onTerminating);

  // ---- session start and settings -------------------------------------------------------------

  /** @param {_StartedEvent} event */
  function onStarted(event) {
    state.sessionId = event.sessionId;
    state.timers.safety = setTimeout(onSafetyTimeout, SAFETY_TIMEOUT_MS);
    state.custom = readCustomData();
    if (!state.custom) {
      log('custom data is not a JSON object with a callback_url; nothing can be reported');
      terminate();
      return;
    }
    fetchSettings(0).then(dial).catch(function (/** @type {unknown} */ e) {
      log('unexpected error: ' + errorText(e));
      finish('failed', 'scenario error: ' + errorText(e));
    });
  }

  /** @returns {CustomData | null} */
  function readCustomData() {
    var data;
    try {
      data = JSON.parse(VoxEngine.customData() || '');
    } catch (e) {
      return null;
    }
    if (!data || typeof data !== 'object' || typeof data.callback_url !== 'string' || !data.callback_url) {
      return null;
    }
    return /** @type {CustomData} */ (data);
  }

  function settingsUrl() {
    var url = state.custom.callback_url;
    return url + (url.indexOf('?') === -1 ? '?' : '&') +
      'attempt_id=' + encodeURIComponent(String(state.custom.attempt_id)) +
      '&token=' + encodeURIComponent(String(state.custom.token || ''));
  }

  /**
   * Resolves with the settings answer, or null when every try failed.
   * @param {number} retryIndex
   * @returns {Promise<JsonObject | null>}
   */
  function fetchSettings(retryIndex) {
    /** @type {Net.HttpRequestOptions} */
    var options = {
      method: 'GET',
      headers: { Accept: 'application/json' },
      timeout: SETTINGS_TIMEOUT_S,
      connectionTimeout: CONNECT_TIMEOUT_S
    };
    return httpRequest(settingsUrl(), options).then(function (response) {
      /** @type {JsonObject | null | Promise<JsonObject | null>} */
      var settings = parseSettings(response);
      if (settings) {
        return settings;
      }
      if (response.code === 400 || response.code === 403 || response.code === 404) {
        log('settings request refused: ' + response.code);
        return null;
      }
      if (retryIndex >= SETTINGS_RETRY_DELAYS_MS.length || state.result) {
        log('settings request failed, last code ' + response.code);
        return null;
      }
      return delay(SETTINGS_RETRY_DELAYS_MS[retryIndex]).then(function () {
        return fetchSettings(retryIndex + 1);
      });
    });
  }

  /**
   * @param {Net.HttpRequestResult} response
   * @returns {JsonObject | null}
   */
  function parseSettings(response) {
    if (!isSuccess(response.code)) {
      return null;
    }
    try {
      var body = JSON.parse(response.text || '');
      return body && typeof body === 'object' ? body : null;
    } catch (e) {
      log('settings answer is not JSON');
      return null;
    }
  }

  // Fetched settings win; custom data fills the gaps; then the defaults. An explicit "" is kept
  // (e.g. callback_digit "" disables ending early), except for those in NEVER_EMPTY.
  /**
   * @param {JsonObject | null} fetched
   * @returns {CallSettings}
   */
  function buildSettings(fetched) {
    /** @type {JsonObject} */
    var settings = {};
    var keys = /** @type {Array<keyof CallSettings>} */ (Object.keys(DEFAULT_SETTINGS));
    keys.forEach(function (key) {
      var skipEmpty = NEVER_EMPTY.indexOf(key) !== -1;
      settings[key] = firstGiven([fetched && fetched[key], customValue(key), DEFAULT_SETTINGS[key]], skipEmpty);
    });
    return /** @type {CallSettings} */ (settings);
  }

  // A setting as the custom data carries it: by its name, or the voicemail action as "vm": "m" or "r" (compact).
  /** @param {string} key */
  function customValue(key) {
    if (key === 'voicemail_action' && state.custom[key] === undefined) {
      return { m: 'message', r: 'recording' }[String(state.custom.vm)];
    }
    return state.custom[key];
  }

  /**
   * @param {unknown[]} values
   * @param {boolean} skipEmpty
   * @returns {unknown}
   */
  function firstGiven(values, skipEmpty) {
    for (var i = 0; i < values.length; i++) {
      var value = values[i];
      if (value !== undefined && value !== null && !(skipEmpty && value === '')) {
        return value;
      }
    }
    return values[values.length - 1];
  }

  // ---- dialing ----------------------------------------------------------------------------------

  /** @param {JsonObject | null} fetched */
  function dial(fetched) {
    if (state.result) {
      return; // the safety timer already decided
    }
    noteExpectedVersion(fetched);
    var settings = buildSettings(fetched);
    if (!settings.phone || !settings.caller_id) {
      finish('failed', fetched ? 'settings have no phone or caller_id' : 'settings unavailable');
      return;
    }
    state.settings = settings;

    var detector = AMD.create({
      model: amdModel(settings.amd_model),
      timeout: clampNumber(settings.amd_timeout_ms, 0, MAX_AMD_TIMEOUT_MS, DEFAULT_SETTINGS.amd_timeout_ms)
    });
    detector.addEventListener(AMD.Events.DetectionComplete, onAmdComplete);
    detector.addEventListener(AMD.Events.DetectionError, onAmdError);

    try {
      state.call = VoxEngine.callPSTN(String(settings.phone), String(settings.caller_id), { amd: detector });
    } catch (e) {
      finish('failed', 'dial error: ' + errorText(e));
      return;
    }
    state.call.addEventListener(CallEvents.Connected, onConnected);
    state.call.addEventListener(CallEvents.Failed, onFailed);
    state.call.addEventListener(CallEvents.Disconnected, onDisconnected);
    state.call.addEventListener(CallEvents.ToneReceived, onTone);
    state.call.addEventListener(CallEvents.PlaybackFinished, onPlaybackFinished);
    state.call.addEventListener(CallEvents.BeepDetectionComplete, onBeep);
    state.call.addEventListener(CallEvents.BeepDetectionError, onBeepError);
  }

  // An outdated upload still calls; its results say so, and the server shows it to the staff.
  /** @param {JsonObject | null} fetched */
  function noteExpectedVersion(fetched) {
    var expected = fetched ? fetched.scenario_version : undefined;
    if (typeof expected === 'number') {
      state.expectedVersion = expected;
      if (expected !== SCENARIO_VERSION) {
        log('this is scenario version ' + SCENARIO_VERSION + ', the server expects scenario version ' + expected);
      }
    }
  }

  /**
   * @param {unknown} name
   * @returns {AMD.Model}
   */
  function amdModel(name) {
    var wanted = String(name || '').toLowerCase();
    var models = /** @type {{[key: string]: AMD.Model}} */ (AMD.Model);
    for (var key in models) {
      if (key.toLowerCase() === wanted || String(models[key]).toLowerCase() === wanted) {
        return models[key];
      }
    }
    return AMD.Model.RU;
  }

  // ---- call events ------------------------------------------------------------------------------

  function onConnected() {
    state.connected = true;
    state.connectedAt = Date.now();
    if (state.person && !state.result) {
      playMessage(); // AMD reported an error before the answer
    }
  }

  /** @param {_FailedEvent} event */
  function onFailed(event) {
    state.callEnded = true;
    if (state.result) {
      return;
    }
    finish(failureResult(event.code), joinDetail(event.code, event.reason));
  }

  /** @param {number} code */
  function failureResult(code) {
    switch (Number(code)) {
      case 486:
      case 603:
        return 'busy';
      case 408:
      case 480:
      case 487:
        return 'no_answer';
      default:
        return 'failed'; // 404/484 invalid number, 402 insufficient funds, anything unexpected
    }
  }

  /** @param {_DisconnectedEvent} event */
  function onDisconnected(event) {
    state.callEnded = true;
    state.duration = state.connected ? disconnectDuration(event) : 0;
    state.playing = false;
    clearTimer('keyWait');
    if (state.result) {
      report(); // our own hangup (or a repeated event): report() runs only once
      return;
    }
    var outcome = outcomeOfRemoteHangup(event);
    finish(outcome.result, outcome.detail);
  }

  /** @param {_DisconnectedEvent} event */
  function disconnectDuration(event) {
    if (event && typeof event.duration === 'number' && event.duration >= 0) {
      return Math.round(event.duration);
    }
    return elapsedSinceConnected();
  }

  /**
   * @param {_DisconnectedEvent} event
   * @returns {{result: string, detail: string}}
   */
  function outcomeOfRemoteHangup(event) {
    if (!state.connected) {
      return { result: 'no_answer', detail: joinDetail('disconnected before answer', event && event.reason) };
    }
    if (state.optingOut) {
      return { result: 'opted_out', detail: state.personDetail }; // hung up during the confirmation
    }
    if (state.voicemail) {
      return { result: 'voicemail', detail: 'amd:VOICEMAIL, hung up while leaving the message' };
    }
    if (state.person) {
      return { result: 'human', detail: state.personDetail };
    }
    return { result: 'no_answer', detail: 'hung up during detection' };
  }

  // ---- answering machine detection -------------------------------------------------------------

  /** @param {AMD._DetectionCompleteEvent} event */
  function onAmdComplete(event) {
    if (state.result || state.amdDone) {
      return;
    }
    state.amdDone = true;
    var resultClass = String(event.resultClass);
    if (resultClass === 'VOICEMAIL') {
      onVoicemail();
    } else if (resultClass === 'CALL_ENDED') {
      finish('no_answer', 'hung up during detection');
    } else {
      treatAsPerson('amd:' + resultClass); // HUMAN, or TIMEOUT: unsure, so assume a person
    }
  }

  /** @param {AMD._DetectionErrorEvent} event */
  function onAmdError(event) {
    if (state.result || state.amdDone) {
      return;
    }
    state.amdDone = true;
    treatAsPerson('amd error: ' + ((event && event.message) || 'unknown'));
  }

  /** @param {string} detail */
  function treatAsPerson(detail) {
    state.person = true;
    state.personDetail = detail;
    if (state.connected) {
      playMessage();
    }
  }

  // ---- voicemail -------------------------------------------------------------------------------

  // The site leaves a message on voicemail, or not. Either way the result is voicemail: nobody was reached.
  function onVoicemail() {
    var action = String(state.settings.voicemail_action || '');
    if ((action !== 'message' && action !== 'recording') || !state.connected) {
      finish('voicemail', 'amd:VOICEMAIL');
      return;
    }
    state.voicemail = true;
    state.timers.voicemail = setTimeout(finishVoicemail, VOICEMAIL_MAX_MS);
    try {
      state.call.enableBeepDetection({ timeout: BEEP_TIMEOUT_MS });
    } catch (e) {
      log('beep detection could not start: ' + errorText(e));
      leaveVoicemail();
    }
  }

  /** @param {_BeepDetectionComplete} event */
  function onBeep(event) {
    if (event && event.timeout) {
      log('no beep heard; leaving the message anyway');
    }
    leaveVoicemail();
  }

  /** @param {_BeepDetectionError} event */
  function onBeepError(event) {
    log('beep detection error: ' + ((event && event.reason) || 'unknown') + '; leaving the message anyway');
    leaveVoicemail();
  }

  function leaveVoicemail() {
    if (!state.voicemail || state.result || state.messageStarted) {
      return;
    }
    state.messageStarted = true;
    var settings = state.settings;
    var message = { url: String(settings.recording_url || ''), text: String(settings.tts_text || '') };
    var own = String(settings.voicemail_url || '');
    state.segments = [settings.voicemail_action === 'recording' && own ? { url: own, text: message.text } : message];
    playNext();
  }

  function finishVoicemail() {
    clearTimer('voicemail');
    finish('voicemail', 'amd:VOICEMAIL, message left');
  }

  // ---- the message and the keys ----------------------------------------------------------------

  function playMessage() {
    if (state.messageStarted) {
      return;
    }
    state.messageStarted = true;
    state.call.handleTones(true);
    var settings = state.settings;
    state.segments = [
      { url: String(settings.disclosure_url || ''), text: String(settings.disclosure_text || '') },
      { url: String(settings.recording_url || ''), text: String(settings.tts_text || '') }
    ];
    playNext();
  }

  // The next segment: its recording, or its text when there is none; the key wait once all have played.
  function playNext() {
    var segment = state.segments.shift();
    if (!segment && state.voicemail) {
      finishVoicemail();
    } else if (!segment) {
      startKeyWait();
    } else if (segment.url) {
      state.current = segment;
      state.playing = true;
      state.call.startPlayback(segment.url);
    } else if (segment.text) {
      state.current = segment;
      say(segment.text);
    } else {
      playNext();
    }
  }

  /** @param {string} text */
  function say(text) {
    var voice = resolveVoice(state.settings.tts_voice);
    state.playing = true;
    if (voice) {
      state.call.say(text, { voice: voice });
    } else {
      state.call.say(text);
    }
  }

  // tts_voice is a VoiceList path such as "YandexV3.ru_RU_alena" or a top-level VoiceList key;
  // old names such as "RU_RUSSIAN_FEMALE" are also looked up in the legacy Language list if present.
  /**
   * @param {string} name
   * @returns {Voice | null}
   */
  function resolveVoice(name) {
    var voice = name ? lookupVoice(String(name)) : null;
    if (!voice && name) {
      log('unknown tts_voice "' + name + '", using the default Russian voice');
    }
    for (var i = 0; !voice && i < DEFAULT_VOICE_PATHS.length; i++) {
      voice = lookupVoice(DEFAULT_VOICE_PATHS[i]);
    }
    return voice;
  }

  /**
   * @param {string} path
   * @returns {Voice | null}
   */
  function lookupVoice(path) {
    var found = lookupPath(typeof VoiceList !== 'undefined' ? VoiceList : null, path);
    if (!found && typeof Language !== 'undefined') {
      found = lookupPath(Language, path);
    }
    return found;
  }

  /**
   * @param {unknown} root
   * @param {string} path
   * @returns {Voice | null}
   */
  function lookupPath(root, path) {
    var node = root;
    var parts = path.split('.');
    for (var i = 0; i < parts.length; i++) {
      if (!node || typeof node !== 'object' || !(parts[i] in node)) {
        return null;
      }
      node = /** @type {JsonObject} */ (node)[parts[i]];
    }
    return /** @type {Voice} */ (node) || null;
  }

  /** @param {_PlaybackFinishedEvent} event */
  function onPlaybackFinished(event) {
    if (!state.playing || state.result) {
      return;
    }
    state.playing = false;
    if (state.optingOut) {
      finishOptOut();
      return;
    }
    var current = state.current;
    if (event && event.error) {
      log('playback error: ' + event.error);
      if (current && current.url && current.text) {
        state.current = { url: '', text: current.text };
        say(current.text); // the recording could not be played: fall back to the text
        return;
      }
    }
    playNext();
  }

  function startKeyWait() {
    var seconds = clampNumber(state.settings.key_wait_seconds, 0, MAX_KEY_WAIT_SECONDS, DEFAULT_SETTINGS.key_wait_seconds);
    state.timers.keyWait = setTimeout(finishPerson, seconds * 1000);
  }

  /** @param {_ToneReceivedEvent} event */
  function onTone(event) {
    if (state.result || state.optingOut) {
      return;
    }
    var tone = String(event.tone);
    state.digits += tone;
    if (tone === String(state.settings.opt_out_digit)) {
      optOut(); // first: were it also the callback digit, "stop calling me" is the safe reading
      return;
    }
    var callbackDigit = String(state.settings.callback_digit || '');
    if (callbackDigit && tone === callbackDigit) {
      stopPlaying();
      finishPerson();
    }
  }

  function stopPlaying() {
    if (state.playing) {
      state.playing = false;
      state.call.stopPlayback();
    }
  }

  // The person asked not to be called again: confirm it in a few words, then end the call.
  function optOut() {
    state.optingOut = true;
    state.segments = [];
    clearTimer('keyWait');
    stopPlaying();
    say(String(state.settings.opt_out_text));
    state.timers.optOut = setTimeout(finishOptOut, OPT_OUT_MAX_MS);
  }

  function finishOptOut() {
    clearTimer('optOut');
    finish('opted_out', state.personDetail);
  }

  function finishPerson() {
    finish('human', state.personDetail);
  }

  // ---- choosing the result and reporting it ----------------------------------------------------

  // Chooses the result once. A live call is hung up first; the report then waits for Disconnected
  // (which carries the billed duration), or for HANGUP_GRACE_MS if that event never comes.
  /**
   * @param {string} result
   * @param {string} detail
   */
  function finish(result, detail) {
    if (state.result) {
      return;
    }
    state.result = result;
    state.detail = detail;
    clearTimer('keyWait');
    clearTimer('optOut');
    clearTimer('voicemail');
    if (state.call && !state.callEnded) {
      var wasConnected = state.connected;
      hangUp();
      if (wasConnected) {
        state.timers.hangupGrace = setTimeout(report, HANGUP_GRACE_MS);
        return;
      }
    }
    report();
  }

  function hangUp() {
    try {
      state.call.hangup();
    } catch (e) {
      log('hangup failed: ' + errorText(e));
    }
  }

  function report() {
    if (state.reportStarted) {
      return;
    }
    state.reportStarted = true;
    clearTimer('hangupGrace');
    var payload = buildPayload(state.result, state.detail);
    log('result ' + payload.result + ' (' + payload.detail + '), duration ' + payload.duration + ' s');
    postResult(payload, 0);
  }

  /**
   * @param {string} result
   * @param {string} detail
   * @returns {Report}
   */
  function buildPayload(result, detail) {
    return {
      attempt_id: state.custom.attempt_id,
      token: state.custom.token,
      result: result,
      duration: state.callEnded ? state.duration : elapsedSinceConnected(),
      digits: state.digits,
      call_session_history_id: state.sessionId,
      detail: detail || '',
      scenario_version: SCENARIO_VERSION,
      version_mismatch: state.expectedVersion !== null && state.expectedVersion !== SCENARIO_VERSION
    };
  }

  // A retry waits on a timer. Should VoxEngine end the session meanwhile, the timer never fires and
  // onTerminating sends the report one last time; after the last retry, terminate() leads there too.
  /**
   * @param {Report} payload
   * @param {number} retryIndex
   */
  function postResult(payload, retryIndex) {
    sendPayload(payload).then(function (code) {
      if (isSuccess(code) || code === 400 || code === 403) {
        state.reportSettled = true;
        if (!isSuccess(code)) {
          log('callback refused the report: ' + code);
        }
        terminate();
      } else if (retryIndex < REPORT_RETRY_DELAYS_MS.length) {
        log('callback answered ' + code + ', retrying');
        setTimeout(function () {
          postResult(payload, retryIndex + 1);
        }, REPORT_RETRY_DELAYS_MS[retryIndex]);
      } else {
        log('callback answered ' + code + ', one last try as the session ends');
        terminate();
      }
    });
  }

  /**
   * Resolves with the HTTP status, or a VoxEngine network code (<= 0).
   * @param {Report} payload
   * @returns {Promise<number>}
   */
  function sendPayload(payload) {
    /** @type {Net.HttpRequestOptions} */
    var options = {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      postData: JSON.stringify(payload),
      timeout: REPORT_TIMEOUT_S,
      connectionTimeout: CONNECT_TIMEOUT_S
    };
    return httpRequest(state.custom.callback_url, options).then(function (response) {
      return response.code;
    });
  }

  // ---- session end ------------------------------------------------------------------------------

  function onSafetyTimeout() {
    state.timers.safety = null;
    if (state.reportStarted) {
      return;
    }
    if (state.result) {
      report(); // still waiting for the hangup to complete
      return;
    }
    finish('failed', 'scenario timeout');
    report(); // do not wait for a hangup grace period here
  }

  // The session ends: after terminate(), 60 s without a call, or administratively. Timers are gone now
  // and exactly one more HTTP request is allowed: the last chance for a result no try delivered.
  function onTerminating() {
    state.terminated = true;
    if (!state.custom || state.reportSettled || state.lastReportSent) {
      return;
    }
    state.lastReportSent = true;
    var payload = state.result ? buildPayload(state.result, state.detail) : buildPayload('failed', 'session terminated');
    log('session ending, last report: ' + payload.result);
    sendPayload(payload);
  }

  function terminate() {
    if (state.terminated) {
      return;
    }
    state.terminated = true;
    Object.keys(state.timers).forEach(clearTimer);
    VoxEngine.terminate();
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /**
   * Net.httpRequestAsync, always resolving with an object that has a numeric code.
   * @param {string} url
   * @param {Net.HttpRequestOptions} options
   * @returns {Promise<Net.HttpRequestResult>}
   */
  function httpRequest(url, options) {
    var request;
    try {
      request = Net.httpRequestAsync(url, options);
    } catch (e) {
      log('http request could not start: ' + errorText(e));
      return Promise.resolve({ code: -1, text: '' });
    }
    return Promise.resolve(request).then(function (response) {
      if (!response || typeof response.code !== 'number') {
        return { code: -1, text: '' };
      }
      return response;
    }, function (/** @type {unknown} */ e) {
      log('http request failed: ' + errorText(e));
      return { code: -1, text: '' };
    });
  }

  /** @param {number} code */
  function isSuccess(code) {
    return code >= 200 && code < 300;
  }

  /**
   * @param {number} ms
   * @returns {Promise<void>}
   */
  function delay(ms) {
    return new Promise(function (resolve) {
      setTimeout(function () {
        resolve();
      }, ms);
    });
  }

  /** @param {string} name */
  function clearTimer(name) {
    if (state.timers[name]) {
      clearTimeout(state.timers[name]);
      state.timers[name] = null;
    }
  }

  function elapsedSinceConnected() {
    return state.connected ? Math.max(0, Math.round((Date.now() - state.connectedAt) / 1000)) : 0;
  }

  /**
   * @param {unknown} value
   * @param {number} min
   * @param {number} max
   * @param {number} fallback
   */
  function clampNumber(value, min, max, fallback) {
    var number = Number(value);
    if (value === '' || value === null || value === undefined || isNaN(number)) {
      return fallback;
    }
    return Math.min(max, Math.max(min, number));
  }

  /**
   * @param {unknown} first
   * @param {unknown} second
   */
  function joinDetail(first, second) {
    return [first, second].filter(function (part) {
      return part !== undefined && part !== null && part !== '';
    }).join(' ');
  }

  /** @param {unknown} e */
  function errorText(e) {
    var message = e && typeof e === 'object' ? /** @type {{message?: unknown}} */ (e).message : undefined;
    return message ? String(message) : String(e);
  }

  /** @param {string} message */
  function log(message) {
    Logger.write('[leadcaller] ' + message);
  }
})();
