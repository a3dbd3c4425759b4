'use strict';
/*
 * An emulation of the VoxEngine runtime that leadcaller.js runs in, for tests: as strict as the vendor.
 *
 * Each emulator loads the scenario into a fresh `vm` context with fake VoxEngine globals and a manual
 * clock: setTimeout/clearTimeout/Date.now inside the scenario follow `advance(ms)`, so a test plays
 * minutes of a call instantly. The test plays the remote side: it answers HTTP requests (queued
 * responses per method) and fires call and AMD events.
 *
 *   const emu = new VoxEmulator({customData: {...}, settings: {...}});
 *   await emu.start();               // AppEvents.Started; the settings GET is answered
 *   await emu.connect();             // CallEvents.Connected
 *   await emu.amdResult('HUMAN');    // AMD.Events.DetectionComplete
 *   await emu.advance(5000);         // run due timers and HTTP answers
 *   emu.reports                      // parsed POST bodies
 *
 * References, named beside each behaviour below:
 *   [d.ts]   the official typings, voximplant/voxengine-ci typings/voxengine.d.ts (package 28.0.0)
 *   [limits] voximplant.com/docs/guides/voxengine/limits ("Limits and restrictions", VoxEngine session limits)
 * What the references leave open is marked "unconfirmed" and modelled on the strict side.
 */
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const SCENARIO_PATH = path.join(__dirname, '..', 'leadcaller.js');

// [limits] a session without calls (and without ACD requests) is terminated in 60 seconds.
const NO_CALL_LIMIT_MS = 60000;
// [limits] before Terminating, VoxEngine waits up to 90 s for pending HTTP requests; queued ones are dropped.
const PENDING_WAIT_MS = 90000;
// [limits] at most 3 active HTTP requests (more are queued); at most 35 active + queued, then an exception.
const MAX_ACTIVE_REQUESTS = 3;
const MAX_OPEN_REQUESTS = 35;
// [limits] at most 100 active timers.
const MAX_TIMERS = 100;
// [d.ts] Net.httpRequestAsync / HttpRequestOptions: timeout 90 s and connectionTimeout 6 s by default,
// in SECONDS, "the value can be only decreased".
const DEFAULT_TIMEOUT_S = 90;
const DEFAULT_CONNECTION_TIMEOUT_S = 6;
// [d.ts] HttpRequestResult.code: -7 is "Timeout". Whether a connect timeout gives -7 or -4 ("Connection
// error") is unconfirmed; both are negative, which the scenario treats alike.
const TIMEOUT_CODE = -7;
// [d.ts] the members of HttpRequestOptions; anything else is a mistake in the scenario.
const HTTP_OPTION_KEYS = new Set([
  'method', 'postData', 'headers', 'params', 'rawOutput', 'timeout', 'connectionTimeout', 'enableSystemLog',
]);

// [d.ts] AppEvents, CallEvents: the event names.
const APP_EVENTS = Object.freeze({
  CallAlerting: 'Application.CallAlerting',
  Terminating: 'Application.Terminating',
  Terminated: 'Application.Terminated',
  Started: 'Application.Started',
  HttpRequest: 'Application.HttpRequest',
});

const CALL_EVENTS = Object.freeze({
  // [d.ts] CallEvents.BeepDetectionComplete / BeepDetectionError: only after Call.enableBeepDetection.
  BeepDetectionComplete: 'Call.BeepDetectionComplete',
  BeepDetectionError: 'Call.BeepDetectionError',
  AudioStarted: 'Call.AudioStarted',
  Connected: 'Call.Connected',
  Disconnected: 'Call.Disconnected',
  Failed: 'Call.Failed',
  PlaybackFinished: 'Call.PlaybackFinished',
  PlaybackReady: 'Call.PlaybackReady',
  PlaybackStarted: 'Call.PlaybackStarted',
  RecordError: 'Call.RecordError',
  RecordStarted: 'Call.RecordStarted',
  RecordStopped: 'Call.RecordStopped',
  Ringing: 'Call.Ringing',
  ToneReceived: 'Call.ToneReceived',
});

// [d.ts] AMD is core: its namespace carries no `require(Modules...)` line and `Modules` has no AMD member.
const AMD_MODELS = Object.freeze({
  BR: 'br', CL: 'cl', CO: 'colombia', KZ: 'kz', MX: 'mx', RU: 'ru', PH: 'ph', PE: 'pe', US: 'us',
  EU_GENERAL: 'eu_general',
});

const AMD_EVENTS = Object.freeze({
  DetectionComplete: 'AMD.Events.DetectionComplete',
  DetectionError: 'AMD.Events.DetectionError',
});

const AMD_RESULT_CLASSES = Object.freeze({
  VOICEMAIL: 'VOICEMAIL', HUMAN: 'HUMAN', TIMEOUT: 'TIMEOUT', CALL_ENDED: 'CALL_ENDED',
});

// [d.ts] enum Modules, and the globals whose doc comments say "add `require(Modules.X)` to use". They
// exist only after that require; a scenario that uses them without it fails here as it does in VoxEngine.
const MODULES = Object.freeze({
  ACD: { id: 'acd', globals: ['ACDEvents', 'ACDRequest'], voxEngine: ['enqueueACDRequest'] },
  AI: {
    id: 'ai',
    globals: ['AI', 'DialogflowLanguage', 'DialogflowModel', 'DialogflowModelVariant', 'DialogflowSsmlVoiceGender'],
  },
  ApplicationStorage: { id: 'applicationstorage', globals: ['ApplicationStorage'] },
  ASR: {
    id: 'asr',
    globals: ['ASR', 'ASRDictionary', 'ASREvents', 'ASRLanguage', 'ASRModel', 'ASRModelList', 'ASRProfileList',
      'TranscriptionProvider'],
    voxEngine: ['createASR'],
  },
  Avatar: { id: 'avatar', globals: ['VoximplantAvatar'] },
  Conference: {
    id: 'conference',
    globals: ['Conference', 'Endpoint', 'ConferenceDirection', 'ConferenceEvents', 'ConferenceMode'],
    voxEngine: ['createConference', 'destroyConference'],
  },
  ElevenLabs: { id: 'elevenlabs', globals: ['ElevenLabs'] },
  Gemini: { id: 'gemini', globals: ['Gemini'] },
  IVR: { id: 'ivr', globals: ['IVR', 'IVRState'] },
  OpenAI: { id: 'openai', globals: ['OpenAI'] },
  PushService: { id: 'pushservice', globals: [] },
  Recorder: {
    id: 'recorder',
    globals: ['Recorder', 'ConferenceRecorder', 'RecorderDirection', 'RecorderEvents', 'RecorderLabelFont',
      'RecorderLabelPosition', 'RecorderLabelTextAlign', 'RecorderLayout', 'RecorderObjectFit', 'RecorderProfile'],
    voxEngine: ['createRecorder'],
  },
  SmartQueue: { id: 'smartqueue', globals: ['SmartQueueTask', 'SmartQueueEvents'] },
  StreamingAgent: {
    id: 'streamingagent', globals: ['StreamingAgent', 'StreamingAgentEvents'], voxEngine: ['createStreamingAgent'],
  },
  Ultravox: { id: 'ultravox', globals: ['Ultravox'] },
  Cartesia: { id: 'cartesia', globals: ['Cartesia'] },
  Yandex: { id: 'yandex', globals: ['Yandex'] },
  VoximplantAPI: { id: 'voximplantapi', globals: ['VoximplantAPI'] },
});

// [d.ts] CallRecordParameters extends BaseRecorderParameters: the members Call.record takes; anything else is a
// mistake in the scenario.
const RECORD_PARAMETER_KEYS = new Set([
  'secure', 'transcribe', 'language', 'hd_audio', 'expire', 'lossless', 'video', 'videoParameters',
  'recordNamePrefix', 'stereo', 'dict', 'labels', 'provider', 'format',
]);

/** A stand-in for a VoiceList voice: tests compare it by `name`. */
function fakeVoice(name) {
  return Object.freeze({ name });
}

function fakeVoiceList() {
  return {
    Amazon: { ru_RU_Tatyana: fakeVoice('Amazon.ru_RU_Tatyana'), ru_RU_Maxim: fakeVoice('Amazon.ru_RU_Maxim') },
    YandexV3: { ru_RU_alena: fakeVoice('YandexV3.ru_RU_alena'), ru_RU_filipp: fakeVoice('YandexV3.ru_RU_filipp') },
    TBank: { ru_RU_Anna: fakeVoice('TBank.ru_RU_Anna') },
  };
}

/** Tiny event target shared by the fake VoxEngine, Call and AMD detector. */
class Listeners {
  constructor() {
    this.byName = new Map();
  }

  add(name, fn) {
    // [d.ts] addEventListener: "anything except a function leads to an error".
    if (typeof fn !== 'function') {
      throw new TypeError(`listener for ${name} is not a function`);
    }
    if (!this.byName.has(name)) this.byName.set(name, []);
    this.byName.get(name).push(fn);
  }

  remove(name, fn) {
    if (!fn) {
      this.byName.delete(name);
      return;
    }
    this.byName.set(name, (this.byName.get(name) || []).filter((f) => f !== fn));
  }

  emit(name, event) {
    for (const fn of [...(this.byName.get(name) || [])]) fn(event);
  }

  count(name) {
    return (this.byName.get(name) || []).length;
  }
}

class FakeDetector {
  constructor(emu, parameters) {
    // [d.ts] AMD.AMDParameters: model is an AMD.Model; timeout "must not be less than 0 or greater than 20000".
    if (!parameters || !Object.values(AMD_MODELS).includes(parameters.model)) {
      throw new TypeError(`AMD.create: unknown model ${parameters && parameters.model}`);
    }
    if (parameters.timeout !== undefined && !(parameters.timeout >= 0 && parameters.timeout <= 20000)) {
      throw new RangeError(`AMD.create: timeout ${parameters.timeout} is outside 0..20000`);
    }
    this.emu = emu;
    this.parameters = plainCopy(parameters);
    this.model = parameters.model;
    this.timeout = parameters.timeout;
    this.listeners = new Listeners();
  }

  id() {
    return 'amd-1';
  }

  addEventListener(name, fn) {
    this.listeners.add(name, fn);
  }

  removeEventListener(name, fn) {
    this.listeners.remove(name, fn);
  }
}

class FakeCall {
  constructor(emu, number, callerid, parameters, index) {
    this.emu = emu;
    this.index = index;
    this.records = []; // Call.record parameters
    this.mediaWith = null; // the call sendMediaBetween joined this one to
    this.dialedNumber = number;
    this.dialedCallerId = callerid;
    this.parameters = parameters;
    this.listeners = new Listeners();
    this.status = 'PROGRESSING';
    this.connectedAt = null;
    this.playbacks = []; // startPlayback URLs
    this.says = []; // {text, parameters}
    this.stopPlaybackCalls = 0;
    this.hangupCalls = 0;
    this.handleTonesCalls = [];
    this.playing = false;
    this.ended = false; // Failed or Disconnected was emitted
    this.beepDetection = null; // the parameters of the enableBeepDetection in force, or null
  }

  /** [d.ts] Call.enableBeepDetection(parameters: CallEnableBeepDetectionParameters): `frequencies?: number[]`
   * (Hz), `timeout?: number` (ms); no other members. That a call must be connected is unconfirmed: required here. */
  enableBeepDetection(parameters) {
    this.emu._requireConnected('enableBeepDetection');
    if (!parameters || typeof parameters !== 'object') {
      throw new TypeError('Call.enableBeepDetection: parameters must be an object');
    }
    for (const key of Object.keys(parameters)) {
      if (key !== 'frequencies' && key !== 'timeout') {
        throw new TypeError(`Call.enableBeepDetection: unknown parameter "${key}"`);
      }
    }
    const { frequencies, timeout } = parameters;
    if (frequencies !== undefined && !(Array.isArray(frequencies) && frequencies.every((f) => typeof f === 'number' && f > 0))) {
      throw new TypeError('Call.enableBeepDetection: frequencies must be an array of numbers (Hz)');
    }
    if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0)) {
      throw new TypeError('Call.enableBeepDetection: timeout must be a number of milliseconds');
    }
    this.beepDetection = plainCopy(parameters);
  }

  /** [d.ts] Call.disableBeepDetection(). */
  disableBeepDetection() {
    this.beepDetection = null;
  }

  id() {
    return `call-${this.index}`;
  }

  number() {
    return this.dialedNumber;
  }

  callerid() {
    return this.dialedCallerId;
  }

  state() {
    return this.status;
  }

  addEventListener(name, fn) {
    this.listeners.add(name, fn);
  }

  removeEventListener(name, fn) {
    this.listeners.remove(name, fn);
  }

  startPlayback(url, parameters) {
    this.emu._requireConnected('startPlayback', this);
    this.playbacks.push({ url, parameters });
    this.playing = true;
  }

  say(text, parameters) {
    this.emu._requireConnected('say', this);
    this.says.push({ text, parameters });
    this.playing = true;
  }

  stopPlayback() {
    this.stopPlaybackCalls += 1;
    this.playing = false; // VoxEngine does not fire PlaybackFinished after stopPlayback
  }

  /**
   * [d.ts] Call.record(parameters: CallRecordParameters): "This method triggers the [CallEvents.RecordStarted]
   * event", whose `url` links the record file; RecordStopped comes after Disconnected. Recording a call that is
   * not connected is unconfirmed: refused here (strict side).
   */
  record(parameters) {
    this.emu._requireConnected('record', this);
    if (!parameters || typeof parameters !== 'object') throw new TypeError('Call.record: parameters are required');
    for (const key of Object.keys(parameters)) {
      if (!RECORD_PARAMETER_KEYS.has(key)) throw new TypeError(`Call.record: unknown parameter ${key}`);
    }
    this.records.push(plainCopy(parameters));
    const url = `https://records.example.test/${this.emu.sessionId}/${this.id()}.mp3`;
    this.recordUrl = url;
    queueMicrotask(() => this.emit(CALL_EVENTS.RecordStarted, { url }));
  }

  handleTones(doHandle) {
    this.handleTonesCalls.push(doHandle === undefined ? true : doHandle);
  }

  /** Like VoxEngine: Disconnected for a connected call, Failed (487) for one still ringing. */
  hangup() {
    this.hangupCalls += 1;
    if (this.status === 'TERMINATED' || !this.emu.autoEndOnHangup) return;
    const wasConnected = this.status === 'CONNECTED';
    this.status = 'TERMINATED';
    queueMicrotask(() => {
      if (wasConnected) {
        this.emit(CALL_EVENTS.Disconnected, {
          internalCode: 200, reason: 'Normal call clearing', duration: this.emu._secondsSinceConnect(this),
          cost: 0, direction: 'pstn',
        });
      } else {
        this.emit(CALL_EVENTS.Failed, { code: 487, reason: 'Request Terminated' });
      }
    });
  }

  emit(name, fields) {
    if (name === CALL_EVENTS.Failed || name === CALL_EVENTS.Disconnected) this.emu._callEnded(this);
    this.listeners.emit(name, { call: this, name, id: this.id(), ...fields });
    if (name === CALL_EVENTS.Disconnected && this.recordUrl) {
      this.listeners.emit(CALL_EVENTS.RecordStopped, { call: this, name: CALL_EVENTS.RecordStopped, id: this.id(),
        url: this.recordUrl });
    }
  }
}

/** A main-realm copy of a JSON-like value made inside the vm context (so strict deepEqual works). */
function plainCopy(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function normalizeResponse(spec, request) {
  const value = typeof spec === 'function' ? spec(request) : spec;
  if (typeof value === 'number') return { code: value, text: '' };
  const response = { ...value };
  if ('json' in response) {
    response.text = JSON.stringify(response.json);
    delete response.json;
  }
  if (response.text === undefined) response.text = '';
  return response;
}

/** [d.ts] HttpRequestOptions: the types each member may have. */
function checkHttpOptions(options) {
  for (const key of Object.keys(options)) {
    if (!HTTP_OPTION_KEYS.has(key)) throw new TypeError(`Net.httpRequestAsync: unknown option "${key}"`);
  }
  for (const key of ['timeout', 'connectionTimeout']) {
    if (options[key] !== undefined && (typeof options[key] !== 'number' || !(options[key] > 0))) {
      throw new TypeError(`Net.httpRequestAsync: ${key} must be a positive number of seconds`);
    }
  }
  if (options.method !== undefined && typeof options.method !== 'string') {
    throw new TypeError('Net.httpRequestAsync: method must be a string');
  }
  if (options.postData !== undefined && typeof options.postData !== 'string' && !Array.isArray(options.postData)) {
    throw new TypeError('Net.httpRequestAsync: postData must be a string or an array of bytes');
  }
  for (const [name, value] of Object.entries(options.headers || {})) {
    if (typeof value !== 'string') throw new TypeError(`Net.httpRequestAsync: header ${name} must be a string`);
  }
}

/** [d.ts] a timeout "can be only decreased": a larger value (say, milliseconds by mistake) means the default. */
function effectiveSeconds(value, fallback) {
  return value === undefined ? fallback : Math.min(value, fallback);
}

class VoxEmulator {
  /**
   * @param {object} options
   *   customData: object (JSON-encoded for the scenario) or raw string
   *   settings:   body of the default 200 answer to the settings GET
   *   sessionId:  AppEvents.Started sessionId
   *   get / post: lists of responses for the settings GET / the report POST; each item is a status code,
   *               {code, text|json, delayMs, connectMs, reject}, or a function(request) returning one. The
   *               last item repeats. delayMs: when the server answers; connectMs: when it accepts the TCP
   *               connection. Either one past the request's timeout gives code -7 at the timeout.
   *               Defaults: GET 200 with `settings`, POST 200.
   *   autoEndOnHangup: whether call.hangup() makes the fake network end the call (default true)
   *   dialError:  if set, VoxEngine.callPSTN throws an Error with this message
   *   dialErrors: {number: message}: callPSTN to that number throws
   *   source:     scenario source to run instead of leadcaller.js
   */
  constructor(options = {}) {
    this.options = options;
    this.now = 0;
    this.timers = []; // {id, due, fn, args, platform}
    this.timerSeq = 0;
    this.requests = [];
    this.activeRequests = [];
    this.queuedRequests = [];
    this.responses = {
      GET: options.get ? [...options.get] : [{ code: 200, json: options.settings || {} }],
      POST: options.post ? [...options.post] : [{ code: 200, json: { status: 'ok' } }],
    };
    this.autoEndOnHangup = options.autoEndOnHangup !== false;
    this.sessionId = options.sessionId === undefined ? 4242 : options.sessionId;
    this.logs = [];
    this.appListeners = new Listeners();
    this.dials = [];
    this.calls = []; // every call the scenario placed, in order
    this.call = null; // the first of them (the lead's, unless the site calls a seller first)
    this.amdCall = null; // the call placed with an AMD detector: the lead's
    this.media = []; // [call, call] pairs joined by sendMediaBetween
    this.detector = null;
    this.terminateCalls = 0;
    // running -> ending (waiting for pending requests) -> terminating (Terminating fired) -> terminated
    this.phase = 'running';
    this.endReason = null;
    this.endedAt = null;
    this.terminatingRequest = null;
    this.noCallTimer = null;
    this.required = new Set();
    this.context = null;
  }

  // ---- scenario loading ------------------------------------------------------------------------

  async start() {
    this._load();
    this._startNoCallClock();
    this.appListeners.emit(APP_EVENTS.Started, {
      name: APP_EVENTS.Started,
      sessionId: this.sessionId,
      accountId: 1,
      applicationId: 2,
      accessURL: 'http://media.example.test/request/abc',
      accessSecureURL: 'https://media.example.test/request/abc',
      logURL: 'https://logs.example.test/abc',
    });
    await this.flush();
    return this;
  }

  _load() {
    const emu = this;
    const customData = this.options.customData;
    const sandbox = {
      VoxEngine: {
        addEventListener: (name, fn) => emu.appListeners.add(name, fn),
        removeEventListener: (name, fn) => emu.appListeners.remove(name, fn),
        customData: () => (typeof customData === 'string' ? customData : JSON.stringify(customData ?? null)),
        callPSTN: (number, callerid, parameters) => emu._callPSTN(number, callerid, parameters),
        sendMediaBetween: (unit1, unit2) => emu._sendMediaBetween(unit1, unit2),
        terminate: () => emu._terminate(),
      },
      AppEvents: APP_EVENTS,
      CallEvents: CALL_EVENTS,
      AMD: {
        create: (parameters) => emu._createDetector(parameters),
        Model: AMD_MODELS,
        Events: AMD_EVENTS,
        ResultClass: AMD_RESULT_CLASSES,
      },
      Modules: Object.freeze(Object.fromEntries(Object.entries(MODULES).map(([key, m]) => [key, m.id]))),
      require: (moduleId) => emu._require(moduleId),
      Net: { httpRequestAsync: (url, options) => emu._httpRequest(url, options) },
      Logger: { write: (message) => emu.logs.push(String(message)) },
      VoiceList: fakeVoiceList(),
      setTimeout: (fn, ms, ...args) => emu._setTimeout(fn, ms, args),
      clearTimeout: (id) => emu._clearTimeout(id),
    };
    if (this.options.language) sandbox.Language = this.options.language;
    this.context = vm.createContext(sandbox);
    const ContextDate = vm.runInContext('Date', this.context);
    ContextDate.now = () => emu.now;
    const source = this.options.source === undefined ? fs.readFileSync(SCENARIO_PATH, 'utf8') : this.options.source;
    vm.runInContext(source, this.context, { filename: SCENARIO_PATH });
  }

  /** [d.ts] `declare function require(module: Modules): void` makes that module's globals exist. */
  _require(moduleId) {
    const entry = Object.values(MODULES).find((m) => m.id === moduleId);
    if (!entry) throw new Error(`require: ${moduleId} is not a member of Modules`);
    if (this.required.has(moduleId)) return;
    this.required.add(moduleId);
    for (const name of entry.globals) this.context[name] = Object.freeze({ module: moduleId, name });
    const voxEngine = this.context.VoxEngine;
    for (const name of entry.voxEngine || []) {
      voxEngine[name] = () => {
        throw new Error(`the emulator does not implement VoxEngine.${name}`);
      };
    }
  }

  // ---- clock -----------------------------------------------------------------------------------

  _setTimeout(fn, ms, args) {
    if (typeof fn !== 'function') throw new TypeError('setTimeout needs a function');
    this.timerSeq += 1;
    // [limits] timers are not available once the session is terminating: they never fire.
    if (this.phase !== 'running') return this.timerSeq;
    if (this.timers.filter((t) => !t.platform).length >= MAX_TIMERS) {
      throw new Error('Exceeded the timer count limit'); // [limits] max 100 active timers; exact error unconfirmed
    }
    const delay = Math.max(0, Number(ms) || 0);
    this.timers.push({ id: this.timerSeq, due: this.now + delay, fn, args, platform: false });
    return this.timerSeq;
  }

  _clearTimeout(id) {
    this.timers = this.timers.filter((t) => t.platform || t.id !== id);
  }

  /** The platform's own schedule (HTTP answers, session limits): runs whatever the session's phase. */
  _platformAt(delayMs, fn) {
    this.timerSeq += 1;
    const timer = { id: this.timerSeq, due: this.now + delayMs, fn, args: [], platform: true };
    this.timers.push(timer);
    return timer;
  }

  _cancel(timer) {
    this.timers = this.timers.filter((t) => t !== timer);
  }

  /** The scenario's timers still pending, as [{id, due}] (ms on the fake clock). */
  get pendingTimers() {
    return this.timers.filter((t) => !t.platform).map(({ id, due }) => ({ id, due }));
  }

  /** Let promise callbacks (in the scenario and here) run. */
  async flush() {
    for (let i = 0; i < 3; i += 1) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Move the clock forward, running every timer and HTTP answer that comes due, in order. */
  async advance(ms) {
    const target = this.now + ms;
    await this.flush();
    for (;;) {
      const due = this.timers
        .filter((t) => t.due <= target)
        .sort((a, b) => a.due - b.due || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.now = due.due;
      due.fn(...due.args);
      await this.flush();
    }
    this.now = target;
    await this.flush();
  }

  _secondsSinceConnect(call = this.call) {
    return call && call.connectedAt !== null ? Math.round((this.now - call.connectedAt) / 1000) : 0;
  }

  // ---- session limits ----------------------------------------------------------------------------

  /** [limits] no call in the session: VoxEngine ends it 60 s later (from the start, or from the last call's end). */
  _startNoCallClock() {
    if (this.noCallTimer) this._cancel(this.noCallTimer);
    this.noCallTimer = this._platformAt(NO_CALL_LIMIT_MS, () => this._beginEnding('no calls for 60 s'));
  }

  _callEnded(call) {
    if (call && !call.ended) {
      call.ended = true;
      // [limits] the 60 s count starts when the session has no call left
      if (this.phase === 'running' && this.calls.every((c) => c.ended)) this._startNoCallClock();
    }
  }

  _terminate() {
    this.terminateCalls += 1;
    this._beginEnding('VoxEngine.terminate()');
  }

  /**
   * [limits] [d.ts AppEvents.Terminating] the session ends: timers stop at once, queued requests are dropped,
   * pending ones get up to 90 s (their callbacks run), then Terminating fires.
   */
  _beginEnding(reason) {
    if (this.phase !== 'running') return;
    this.phase = 'ending';
    this.endReason = reason;
    this.endedAt = this.now;
    this.timers = this.timers.filter((t) => t.platform);
    for (const request of this.queuedRequests) request.dropped = true;
    this.queuedRequests = [];
    if (this.activeRequests.length === 0) {
      queueMicrotask(() => this._fireTerminating());
    } else {
      this.pendingWait = this._platformAt(PENDING_WAIT_MS, () => {
        for (const request of this.activeRequests) request.abandoned = true;
        this._fireTerminating();
      });
    }
  }

  /** [d.ts AppEvents.Terminating] one HTTP request is allowed; Terminated follows when it is done (or none made). */
  _fireTerminating() {
    if (this.phase !== 'ending') return;
    if (this.pendingWait) this._cancel(this.pendingWait);
    this.phase = 'terminating';
    this.appListeners.emit(APP_EVENTS.Terminating, { name: APP_EVENTS.Terminating });
    if (!this.terminatingRequest) this._fireTerminated();
  }

  _fireTerminated() {
    this.phase = 'terminated';
    this.appListeners.emit(APP_EVENTS.Terminated, { name: APP_EVENTS.Terminated });
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  _httpRequest(url, options = {}) {
    if (typeof url !== 'string') throw new TypeError('Net.httpRequestAsync: url must be a string');
    checkHttpOptions(options);
    // [d.ts AppEvents.Terminated] only Logger.write may be used; [d.ts Terminating] exactly one request.
    if (this.phase === 'terminated') throw new Error('no HTTP request is possible after Terminated');
    if (this.phase === 'terminating' && this.terminatingRequest) {
      throw new Error('AppEvents.Terminating allows only one HTTP request');
    }
    if (this.activeRequests.length + this.queuedRequests.length >= MAX_OPEN_REQUESTS) {
      throw new Error('Exceeded the HTTP connection count limit!'); // [limits]
    }
    const request = this._record(url, options);
    return new Promise((resolve, reject) => {
      request.deliver = (response) => (response.reject ? reject(new Error(response.reject)) : resolve(response));
      if (this.phase === 'ending') {
        request.dropped = true; // [limits] what is not already running when the session ends never runs
      } else if (this.phase === 'terminating') {
        this.terminatingRequest = request;
        this._startRequest(request);
      } else if (this.activeRequests.length < MAX_ACTIVE_REQUESTS) {
        this._startRequest(request);
      } else {
        this.queuedRequests.push(request); // [limits] over 3 active: queued
      }
    });
  }

  _record(url, options) {
    const method = String(options.method || 'GET').toUpperCase();
    let body;
    if (typeof options.postData === 'string') {
      try {
        body = JSON.parse(options.postData);
      } catch (e) {
        body = options.postData;
      }
    }
    const request = {
      method, url, options: plainCopy(options), body, at: this.now, phase: this.phase, startedAt: null,
      settledAt: null, dropped: false, abandoned: false,
    };
    this.requests.push(request);
    const queue = this.responses[method] || [{ code: 200 }];
    request.response = normalizeResponse(queue.length > 1 ? queue.shift() : queue[0], request);
    return request;
  }

  _startRequest(request) {
    this.activeRequests.push(request);
    request.startedAt = this.now;
    const connectLimitMs = effectiveSeconds(request.options.connectionTimeout, DEFAULT_CONNECTION_TIMEOUT_S) * 1000;
    const totalLimitMs = effectiveSeconds(request.options.timeout, DEFAULT_TIMEOUT_S) * 1000;
    request.limits = { connectMs: connectLimitMs, totalMs: totalLimitMs };
    const { connectMs = 0, delayMs = 0 } = request.response;
    let at = delayMs;
    let answer = request.response;
    if (connectMs > connectLimitMs || delayMs > totalLimitMs) {
      at = connectMs > connectLimitMs ? connectLimitMs : totalLimitMs;
      answer = { code: TIMEOUT_CODE, text: '', error: 'Timeout' };
    }
    if (at === 0) queueMicrotask(() => this._settle(request, answer)); // an instant answer needs no advance()
    else this._platformAt(at, () => this._settle(request, answer));
  }

  _settle(request, answer) {
    if (request.abandoned) return;
    request.settledAt = this.now;
    request.result = { code: answer.code, reject: answer.reject };
    this.activeRequests = this.activeRequests.filter((r) => r !== request);
    request.deliver(answer.reject ? answer : { code: answer.code, text: answer.text, headers: [], raw_headers: '' });
    if (this.phase === 'running' && this.queuedRequests.length) this._startRequest(this.queuedRequests.shift());
    if (this.phase === 'ending' && this.activeRequests.length === 0) {
      this._platformAt(0, () => this._fireTerminating()); // after the scenario's callbacks for this answer
    }
    if (this.phase === 'terminating' && request === this.terminatingRequest) {
      queueMicrotask(() => this._fireTerminated());
    }
  }

  /** Queue more responses for a method ('GET' or 'POST'); the last one repeats. */
  respond(method, ...responses) {
    this.responses[method] = responses;
  }

  get gets() {
    return this.requests.filter((r) => r.method === 'GET');
  }

  get posts() {
    return this.requests.filter((r) => r.method === 'POST');
  }

  /** Parsed JSON bodies of every POST that reached the server (one per report attempt). */
  get reports() {
    return this.posts.filter((r) => !r.dropped).map((r) => r.body);
  }

  // ---- VoxEngine calls -------------------------------------------------------------------------

  _createDetector(parameters) {
    this.detector = new FakeDetector(this, parameters);
    return this.detector;
  }

  _callPSTN(number, callerid, parameters) {
    // [d.ts] callPSTN(number: string, callerid: string, parameters?: CallPSTNParameters)
    if (typeof number !== 'string' || typeof callerid !== 'string') {
      throw new TypeError('VoxEngine.callPSTN: number and callerid must be strings');
    }
    if (this.phase !== 'running') throw new Error('callPSTN in a session that is ending');
    if (this.options.dialError) throw new Error(this.options.dialError);
    if ((this.options.dialErrors || {})[number]) throw new Error(this.options.dialErrors[number]);
    this.dials.push({ number, callerid, parameters });
    const call = new FakeCall(this, number, callerid, parameters, this.calls.length + 1);
    this.calls.push(call);
    if (!this.call) this.call = call;
    if (parameters && parameters.amd) this.amdCall = call;
    if (this.noCallTimer) this._cancel(this.noCallTimer); // a session with a call is not ended for lack of calls
    this.noCallTimer = null;
    return call;
  }

  /**
   * [d.ts] VoxEngine.sendMediaBetween(mediaUnit1, mediaUnit2) "binds two audio/video streams"; Call.startPlayback:
   * "each call object ... can receive only one audio stream. A new incoming stream always replaces the previous
   * one", so a playback stops (without PlaybackFinished: unconfirmed). Joining calls that are not both connected
   * is unconfirmed: refused here (strict side).
   */
  _sendMediaBetween(unit1, unit2) {
    for (const unit of [unit1, unit2]) {
      if (!this.calls.includes(unit)) throw new TypeError('sendMediaBetween: not a media unit of this session');
      this._requireConnected('sendMediaBetween', unit);
    }
    if (unit1 === unit2) throw new TypeError('sendMediaBetween: a call cannot be joined to itself');
    for (const unit of [unit1, unit2]) unit.playing = false;
    unit1.mediaWith = unit2;
    unit2.mediaWith = unit1;
    this.media.push([unit1, unit2]);
  }

  _requireConnected(what, call = this.call) {
    if (!call || call.status !== 'CONNECTED') {
      throw new Error(`${what} on a call that is not connected`);
    }
  }

  /** The call placed to `number` (the latest, if several). */
  callTo(number) {
    const found = this.calls.filter((c) => c.dialedNumber === number).pop();
    if (!found) throw new Error(`the scenario has not dialed ${number}`);
    return found;
  }

  // ---- the remote side ---------------------------------------------------------------------------

  _requireCall(call) {
    if (call) return call;
    if (!this.call) throw new Error('the scenario has not dialed');
    return this.call;
  }

  /** The callee answers (`call`: which one; the first call by default). */
  async connect(call) {
    call = this._requireCall(call);
    call.status = 'CONNECTED';
    call.connectedAt = this.now;
    call.emit(CALL_EVENTS.Connected, { headers: {} });
    await this.flush();
  }

  /** The call fails before answer (busy, no answer, invalid number, ...). */
  async fail(code, reason, call) {
    call = this._requireCall(call);
    call.status = 'TERMINATED';
    call.emit(CALL_EVENTS.Failed, { code, reason, headers: {} });
    await this.flush();
  }

  /** The callee (or the network) ends a connected call; duration defaults to the clock. */
  async disconnect(fields = {}, call = undefined) {
    call = this._requireCall(call);
    call.status = 'TERMINATED';
    call.playing = false;
    call.emit(CALL_EVENTS.Disconnected, {
      internalCode: 200, reason: 'Normal call clearing', duration: this._secondsSinceConnect(call),
      cost: 0.01, direction: 'pstn', headers: {}, ...fields,
    });
    await this.flush();
  }

  async amdResult(resultClass, fields = {}) {
    const call = this._requireCall(this.amdCall);
    this.detector.listeners.emit(AMD_EVENTS.DetectionComplete, {
      amd: this.detector, call, callId: call.id(), resultClass, resultSubtype: 'NONE', confidence: 90, ...fields,
    });
    await this.flush();
  }

  /** [d.ts] CallEvents.BeepDetectionComplete: `frequencies?: number[]` heard, `timeout?: boolean`. Delivered only
   * while beep detection is enabled, once (VoxEngine's detection ends with it). */
  async beep(fields = { frequencies: [1000] }) {
    const call = this._requireCall();
    if (!call.beepDetection) return;
    call.beepDetection = null;
    call.emit(CALL_EVENTS.BeepDetectionComplete, fields);
    await this.flush();
  }

  /** [d.ts] CallEvents.BeepDetectionError: `reason: string`. */
  async beepError(reason) {
    const call = this._requireCall();
    if (!call.beepDetection) return;
    call.beepDetection = null;
    call.emit(CALL_EVENTS.BeepDetectionError, { reason });
    await this.flush();
  }

  async amdError(message) {
    const call = this._requireCall(this.amdCall);
    this.detector.listeners.emit(AMD_EVENTS.DetectionError, { amd: this.detector, callId: call.id(), message });
    await this.flush();
  }

  /** The callee presses a key (only delivered after handleTones(true), like VoxEngine). */
  async pressKey(tone, call) {
    call = this._requireCall(call);
    if (call.handleTonesCalls[call.handleTonesCalls.length - 1] !== true) return;
    call.emit(CALL_EVENTS.ToneReceived, { tone: String(tone), type: '1' });
    await this.flush();
  }

  /** The current playback (recording or TTS) ends, optionally with an error. */
  async finishPlayback(fields = {}, call = undefined) {
    call = this._requireCall(call);
    if (!call.playing) throw new Error('nothing is playing');
    call.playing = false;
    call.emit(CALL_EVENTS.PlaybackFinished, fields);
    await this.flush();
  }

  /** VoxEngine ends the session on its own (a session limit, or administratively). */
  async platformTerminates() {
    this._beginEnding('ended by the platform');
    await this.flush();
  }
}

module.exports = {
  VoxEmulator, APP_EVENTS, CALL_EVENTS, AMD_EVENTS, AMD_MODELS, MODULES, NO_CALL_LIMIT_MS, PENDING_WAIT_MS,
};
