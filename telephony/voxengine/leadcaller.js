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
 *    "scenario_version", and the seller keys: "call_mode", "seller_first_fallback", "ring_strategy",
 *    "seller_ring_seconds", "seller_wait_seconds", "connect_digit", "record_calls", "sellers_url", "offer_text",
 *    "hold_text", "promise_text", and for voicemail "voicemail_action", "voicemail_url"}
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
 * A seller on the line (call_mode from the settings; "recording" when there is no sellers_url):
 *   - offer: after the message, offer_text ("press 1 to talk to a manager now"). The connect digit -> hold_text to
 *     the lead, then POST <sellers_url> {"attempt_id", "token", "missed": [seller ids rung who did not take it]}
 *     answers {"sellers": [{"id", "name", "phone", "whisper_text"}]} (the server routes and claims them; an
 *     empty list: nobody free, asked again 5 s later). Each seller is dialled with callPSTN (no AMD), rung for
 *     seller_ring_seconds; one who answers hears whisper_text and has 20 s to press the connect digit; the first
 *     to press it is joined to the lead (VoxEngine.sendMediaBetween), the others are hung up. With
 *     ring_strategy "simultaneous" the server hands out several at once. Nobody within seller_wait_seconds ->
 *     the lead hears promise_text, result seller_missed. The lead hanging up while waiting -> seller_missed.
 *     Joined: whoever hangs up first ends both calls; result connected with seller_id and talk_time (seconds
 *     joined). record_calls -> the lead's call is recorded from the join (call.record), recording_url reported.
 *   - seller_first: sellers are rung before the lead; the one who presses the connect digit waits while the
 *     lead is dialled (with AMD as usual), hears the disclosure, and is joined. No seller free at the first
 *     ask, or none within seller_wait_seconds -> the lead is called in seller_first_fallback mode (offer or
 *     recording). The lead not reached -> the seller is hung up and the lead's result is reported.
 *
 * Report: one result per session, POST <callback_url> with a JSON body
 *   {"attempt_id", "token", "result", "duration", "digits", "call_session_history_id", "detail",
 *    "scenario_version", "version_mismatch"}
 * and, when they say something, "seller_id", "talk_time" (result connected) and "recording_url";
 * result is one of human, voicemail, no_answer, busy, failed, opted_out, connected, seller_missed; duration is the connected time in seconds
 * (0 when never answered). A 2xx answer ends the session; 400 and 403 are final; anything else (other
 * status, or a VoxEngine network error code <= 0) is retried, 4 tries in all, 1 s, 3 s and 9 s apart,
 * each given 8 s. While no try succeeded, AppEvents.Terminating sends the same body once more: whether
 * the scenario gave up, or VoxEngine ended the session (60 s without a call) before a retry's timer fired.
 * The session always ends with VoxEngine.terminate(). A safety timer reports "failed"/"scenario timeout"
 * when nothing was reported after 180 s (past the seller wait while sellers are rung; none once a seller is joined).
 *
 * No secret lives here: the token is the attempt's own HMAC, checked by the server.
 */
(function leadcallerScenario() {
  'use strict';

  // Raised whenever what the scenario does or sends changes; the server names the version it expects
  // (telephony/scenario.py reads this line), so an old upload shows instead of misbehaving.
  var SCENARIO_VERSION = 5;

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
  var WHISPER_MAX_MS = 20000; // a seller who answered has this long, from the answer, to press the connect key
  var SELLER_RETRY_MS = 5000; // nobody free: ask again this much later, while the lead still waits
  var SELLERS_TIMEOUT_S = 6;
  var MAX_SELLER_WAIT_SECONDS = 300;
  var MAX_RING_SECONDS = 120;
  var BEEP_TIMEOUT_MS = 20000; // how long a voicemail greeting may run before the message is left anyway
  var VOICEMAIL_MAX_MS = 90000; // a message left on voicemail is cut off after this long

  // Types for the check against VoxImplant's typings (README.md, "Type check"); VoxEngine ignores them.
  /**
   * @typedef {{phone: string, caller_id: string, recording_url: string, tts_text: string, tts_voice: string,
   *   amd_model: string, amd_timeout_ms: number, callback_digit: string, key_wait_seconds: number,
   *   disclosure_url: string, disclosure_text: string, opt_out_digit: string, opt_out_text: string,
   *   call_mode: string, seller_first_fallback: string, ring_strategy: string, seller_ring_seconds: number,
   *   seller_wait_seconds: number, connect_digit: string, record_calls: boolean, sellers_url: string,
   *   offer_text: string, hold_text: string, promise_text: string,
   *   voicemail_action: string, voicemail_url: string}} CallSettings
   * @typedef {{id: number, name: string, phone: string, whisper_text: string}} SellerInfo  one seller to ring
   * @typedef {{seller: SellerInfo, call: Call, timer: string, answered: boolean, ended: boolean}} SellerLeg
   * @typedef {{url: string, text: string}} Segment  one thing to play: a recording, else (or if it fails) the text
   * @typedef {{[key: string]: unknown}} JsonObject  the settings answer, as parsed
   * @typedef {JsonObject & {attempt_id: number, token: string, callback_url: string}} CustomData  as the server built it
   * @typedef {{attempt_id: number, token: string, result: string, duration: number, digits: string,
   *   call_session_history_id: number, detail: string, scenario_version: number, version_mismatch: boolean,
   *   seller_id?: number, talk_time?: number, recording_url?: string}} Report
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
    // A seller on the line (docs/operations.md, "Sellers on the line"); "recording" without a sellers_url.
    call_mode: 'recording',
    seller_first_fallback: 'offer',
    ring_strategy: 'sequential',
    seller_ring_seconds: 20,
    seller_wait_seconds: 60,
    connect_digit: '1',
    record_calls: false,
    sellers_url: '',
    offer_text: 'Нажмите 1, чтобы поговорить с менеджером прямо сейчас.',
    hold_text: 'Соединяю с менеджером, оставайтесь на линии.',
    promise_text: 'Все менеджеры заняты. Менеджер перезвонит вам в ближайшее время. До свидания.',
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
   *   mode: string, sellerPhase: string, legs: SellerLeg[], missed: number[], seller: SellerLeg | null,
   *   joinedAt: number, talkTime: number | null, recordingUrl: string,
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
    mode: 'recording', // recording, offer or seller_first: what this call does (a fallback may change it)
    // none -> searching (sellers rung) -> taken (a seller pressed the key) -> joined; or searching -> promising
    sellerPhase: 'none',
    legs: [], // the sellers' calls
    missed: [], // sellers rung who did not take the call, not yet told to the server
    seller: null, // the leg that took the call
    joinedAt: 0,
    talkTime: null,
    recordingUrl: '',
    timers: { safety: null, keyWait: null, hangupGrace: null, optOut: null, sellerWait: null, sellerAsk: null,
      promise: null, voicemail: null }
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
    state.mode = settings.sellers_url ? String(settings.call_mode) : 'recording';
    if (state.mode === 'seller_first') {
      startSellerSearch(); // the lead is dialled once a seller took the call, or by the fallback
      return;
    }
    dialLead();
  }

  function dialLead() {
    var settings = state.settings;
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
    if (state.sellerPhase === 'joined') {
      return { result: 'connected', detail: 'the lead hung up' };
    }
    if (state.sellerPhase !== 'none') {
      return { result: 'seller_missed', detail: 'the lead hung up waiting for a seller' };
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
    if (state.sellerPhase === 'taken') {
      state.segments = state.segments.slice(0, 1); // seller first: the disclosure, then the seller
    } else if (state.mode === 'offer') {
      state.segments.push({ url: '', text: String(settings.offer_text || '') });
    }
    playNext();
  }

  // The next segment: its recording, or its text when there is none; the key wait once all have played.
  function playNext() {
    var segment = state.segments.shift();
    if (!segment && state.sellerPhase === 'taken') {
      join();
    } else if (!segment && state.voicemail) {
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
    if (state.sellerPhase === 'promising') {
      finish('seller_missed', 'no seller took the call');
      return;
    }
    if (state.sellerPhase === 'searching') {
      return; // the hold message is over; the lead waits in silence for a seller
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
    if (state.result || state.optingOut || state.sellerPhase === 'joined') {
      return; // talking to a seller: the keys are theirs
    }
    var tone = String(event.tone);
    state.digits += tone;
    if (tone === String(state.settings.opt_out_digit)) {
      optOut(); // first: were it also the callback digit, "stop calling me" is the safe reading
      return;
    }
    if (state.sellerPhase === 'taken') {
      return; // seller first, the disclosure plays: only the opt-out key counts
    }
    if (state.mode === 'offer' && state.sellerPhase === 'none' && tone === String(state.settings.connect_digit)) {
      state.segments = [];
      clearTimer('keyWait');
      stopPlaying();
      say(String(state.settings.hold_text));
      startSellerSearch();
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
    clearTimer('sellerWait'); // no seller for someone who asked not to be called
    clearTimer('sellerAsk');
    state.legs.forEach(hangUpLeg);
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

  // ---- a seller on the line ---------------------------------------------------------------------
  // offer: the lead pressed the connect key; seller_first: before the lead is dialled. The server picks the
  // sellers (POST sellers_url); each is rung with callPSTN, hears the lead's details (whisper_text) and
  // presses the connect key; then the two calls are joined with VoxEngine.sendMediaBetween.

  function startSellerSearch() {
    state.sellerPhase = 'searching';
    var waitMs = clampNumber(state.settings.seller_wait_seconds, 10, MAX_SELLER_WAIT_SECONDS,
      DEFAULT_SETTINGS.seller_wait_seconds) * 1000;
    state.timers.sellerWait = setTimeout(onSellerWaitOver, waitMs);
    clearTimer('safety'); // the wait is bounded by its own timer; the safety net moves past it
    state.timers.safety = setTimeout(onSafetyTimeout, waitMs + SAFETY_TIMEOUT_MS);
    askSellers(true);
  }

  /** @param {boolean} first */
  function askSellers(first) {
    state.timers.sellerAsk = null;
    /** @type {Net.HttpRequestOptions} */
    var options = {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      postData: JSON.stringify({ attempt_id: state.custom.attempt_id, token: state.custom.token,
        missed: state.missed.splice(0) }),
      timeout: SELLERS_TIMEOUT_S,
      connectionTimeout: CONNECT_TIMEOUT_S
    };
    httpRequest(String(state.settings.sellers_url), options).then(function (response) {
      if (state.result || state.optingOut || state.sellerPhase !== 'searching') {
        return;
      }
      var sellers = parseSellers(response);
      if (sellers.length) {
        sellers.forEach(ringSeller);
      } else if (first && state.mode === 'seller_first') {
        sellerFirstFallback('no seller free');
      } else {
        state.timers.sellerAsk = setTimeout(function () {
          askSellers(false);
        }, SELLER_RETRY_MS);
      }
    });
  }

  /**
   * @param {Net.HttpRequestResult} response
   * @returns {SellerInfo[]}
   */
  function parseSellers(response) {
    if (!isSuccess(response.code)) {
      log('sellers request answered ' + response.code);
      return [];
    }
    try {
      var body = JSON.parse(response.text || '');
      var list = body && Array.isArray(body.sellers) ? body.sellers : [];
      return list.filter(function (/** @type {SellerInfo} */ seller) {
        return seller && typeof seller.phone === 'string' && seller.phone && typeof seller.id === 'number';
      });
    } catch (e) {
      log('sellers answer is not JSON');
      return [];
    }
  }

  /** @param {SellerInfo} seller */
  function ringSeller(seller) {
    var call;
    try {
      call = VoxEngine.callPSTN(String(seller.phone), String(state.settings.caller_id));
    } catch (e) {
      log('seller dial error: ' + errorText(e));
      state.missed.push(seller.id);
      scheduleNextAsk();
      return;
    }
    /** @type {SellerLeg} */
    var leg = { seller: seller, call: call, timer: 'seller' + state.legs.length, answered: false, ended: false };
    state.legs.push(leg);
    var ringMs = clampNumber(state.settings.seller_ring_seconds, 5, MAX_RING_SECONDS,
      DEFAULT_SETTINGS.seller_ring_seconds) * 1000;
    state.timers[leg.timer] = setTimeout(function () {
      legGaveUp(leg);
    }, ringMs);
    call.addEventListener(CallEvents.Connected, function () {
      onSellerAnswered(leg);
    });
    call.addEventListener(CallEvents.Failed, function () {
      onSellerGone(leg);
    });
    call.addEventListener(CallEvents.Disconnected, function () {
      onSellerGone(leg);
    });
    call.addEventListener(CallEvents.ToneReceived, function (/** @type {_ToneReceivedEvent} */ event) {
      if (state.sellerPhase === 'searching' && !state.result &&
          String(event.tone) === String(state.settings.connect_digit)) {
        sellerTakes(leg);
      }
    });
  }

  /** @param {SellerLeg} leg */
  function onSellerAnswered(leg) {
    leg.answered = true;
    clearTimer(leg.timer);
    if (state.result || state.sellerPhase !== 'searching') {
      hangUpLeg(leg); // another seller was quicker
      return;
    }
    state.timers[leg.timer] = setTimeout(function () {
      legGaveUp(leg);
    }, WHISPER_MAX_MS);
    leg.call.handleTones(true);
    var voice = resolveVoice(state.settings.tts_voice);
    var text = String(leg.seller.whisper_text || '');
    if (voice) {
      leg.call.say(text, { voice: voice });
    } else {
      leg.call.say(text);
    }
  }

  // Not answered in time, or answered without pressing the key: hung up, and counted as missed when it ends.
  /** @param {SellerLeg} leg */
  function legGaveUp(leg) {
    state.timers[leg.timer] = null;
    hangUpLeg(leg);
  }

  /** @param {SellerLeg} leg */
  function hangUpLeg(leg) {
    if (leg.ended) {
      return;
    }
    try {
      leg.call.hangup();
    } catch (e) {
      log('seller hangup failed: ' + errorText(e));
    }
  }

  /** @param {SellerLeg} leg */
  function onSellerGone(leg) {
    if (leg.ended) {
      return;
    }
    leg.ended = true;
    clearTimer(leg.timer);
    if (state.result) {
      return;
    }
    if (leg === state.seller) {
      sellerLeft();
      return;
    }
    state.missed.push(leg.seller.id);
    scheduleNextAsk();
  }

  // Every seller rung so far has ended without taking the call: ask for the next ones.
  function scheduleNextAsk() {
    var ringing = state.legs.filter(function (leg) {
      return !leg.ended;
    });
    if (state.sellerPhase === 'searching' && !state.optingOut && !ringing.length && !state.timers.sellerAsk) {
      state.timers.sellerAsk = setTimeout(function () {
        askSellers(false);
      }, 0);
    }
  }

  /** @param {SellerLeg} leg */
  function sellerTakes(leg) {
    state.sellerPhase = 'taken';
    state.seller = leg;
    clearTimer(leg.timer);
    clearTimer('sellerWait');
    clearTimer('sellerAsk');
    state.legs.forEach(function (other) {
      if (other !== leg) {
        hangUpLeg(other);
      }
    });
    leg.call.stopPlayback();
    if (!state.call) {
      dialLead(); // seller first: now the lead; joined once the disclosure has played to them
    } else {
      join();
    }
  }

  function join() {
    state.sellerPhase = 'joined';
    state.segments = [];
    stopPlaying();
    VoxEngine.sendMediaBetween(state.call, state.seller.call);
    state.joinedAt = Date.now();
    clearTimer('safety'); // a conversation lasts as long as it lasts
    if (state.settings.record_calls === true) {
      state.call.addEventListener(CallEvents.RecordStarted, function (/** @type {_RecordStartedEvent} */ event) {
        state.recordingUrl = String(event.url || '');
      });
      state.call.record({ stereo: true });
    }
  }

  // The seller who took the call hung up: the conversation is over, or (seller first) the lead is not
  // joined yet and is let go.
  function sellerLeft() {
    if (state.sellerPhase === 'joined') {
      finish('connected', 'the seller hung up');
    } else {
      finish('seller_missed', 'the seller hung up before the lead was joined');
    }
  }

  function onSellerWaitOver() {
    state.timers.sellerWait = null;
    if (state.result || state.sellerPhase !== 'searching') {
      return;
    }
    clearTimer('sellerAsk');
    state.legs.forEach(hangUpLeg);
    if (state.mode === 'seller_first') {
      sellerFirstFallback('no seller took the call');
      return;
    }
    state.sellerPhase = 'promising';
    stopPlaying();
    say(String(state.settings.promise_text));
    state.timers.promise = setTimeout(function () {
      finish('seller_missed', 'no seller took the call');
    }, OPT_OUT_MAX_MS);
  }

  /** @param {string} why */
  function sellerFirstFallback(why) {
    log('seller first: ' + why + ', calling the lead in ' + state.settings.seller_first_fallback + ' mode');
    state.sellerPhase = 'none';
    state.mode = String(state.settings.seller_first_fallback) === 'offer' ? 'offer' : 'recording';
    dialLead();
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
    clearTimer('sellerWait');
    clearTimer('sellerAsk');
    clearTimer('promise');
    if (state.sellerPhase === 'joined' && state.talkTime === null) {
      state.talkTime = Math.max(0, Math.round((Date.now() - state.joinedAt) / 1000));
    }
    state.legs.forEach(hangUpLeg);
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
    /** @type {Report} */
    var payload = {
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
    if (result === 'connected' && state.seller) { // the seller fields are sent only when they say something
      payload.seller_id = state.seller.seller.id;
      payload.talk_time = state.talkTime === null ? elapsedSinceJoined() : state.talkTime;
    }
    if (state.recordingUrl) {
      payload.recording_url = state.recordingUrl;
    }
    return payload;
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

  function elapsedSinceJoined() {
    return state.joinedAt ? Math.max(0, Math.round((Date.now() - state.joinedAt) / 1000)) : 0;
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
