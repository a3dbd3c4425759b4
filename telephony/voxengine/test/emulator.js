'use strict';
/*
 * A small emulation of the VoxEngine globals that leadcaller.js uses, for tests.
 *
 * Each emulator loads the scenario into a fresh `vm` context with fake VoxEngine objects and a
 * manual clock: setTimeout/clearTimeout/Date.now inside the scenario follow `advance(ms)`, so a
 * test plays minutes of a call instantly. The test plays the remote side: it answers HTTP requests
 * (queued responses per method) and fires call and AMD events.
 *
 *   const emu = new VoxEmulator({customData: {...}, settings: {...}});
 *   await emu.start();               // AppEvents.Started; the settings GET is answered
 *   await emu.connect();             // CallEvents.Connected
 *   await emu.amdResult('HUMAN');    // AMD.Events.DetectionComplete
 *   await emu.advance(5000);         // run due timers
 *   emu.reports                      // parsed POST bodies
 */
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const SCENARIO_PATH = path.join(__dirname, '..', 'leadcaller.js');

const APP_EVENTS = Object.freeze({
  CallAlerting: 'Application.CallAlerting',
  Terminating: 'Application.Terminating',
  Terminated: 'Application.Terminated',
  Started: 'Application.Started',
  HttpRequest: 'Application.HttpRequest',
});

const CALL_EVENTS = Object.freeze({
  AudioStarted: 'Call.AudioStarted',
  Connected: 'Call.Connected',
  Disconnected: 'Call.Disconnected',
  Failed: 'Call.Failed',
  PlaybackFinished: 'Call.PlaybackFinished',
  PlaybackReady: 'Call.PlaybackReady',
  PlaybackStarted: 'Call.PlaybackStarted',
  Ringing: 'Call.Ringing',
  ToneReceived: 'Call.ToneReceived',
});

const AMD_MODELS = Object.freeze({
  BR: 'br', CL: 'cl', CO: 'colombia', EU_GENERAL: 'eu_general', ES: 'es', KZ: 'kz',
  MX: 'mx', RU: 'ru', PH: 'ph', PE: 'pe', US: 'us',
});

const AMD_EVENTS = Object.freeze({
  DetectionComplete: 'AMD.Events.DetectionComplete',
  DetectionError: 'AMD.Events.DetectionError',
});

const AMD_RESULT_CLASSES = Object.freeze({
  VOICEMAIL: 'VOICEMAIL', HUMAN: 'HUMAN', TIMEOUT: 'TIMEOUT', CALL_ENDED: 'CALL_ENDED',
});

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
    this.emu = emu;
    this.parameters = plainCopy(parameters);
    this.model = parameters && parameters.model;
    this.timeout = parameters && parameters.timeout;
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
  constructor(emu, number, callerid, parameters) {
    this.emu = emu;
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
  }

  id() {
    return 'call-1';
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
    this.emu._requireConnected('startPlayback');
    this.playbacks.push({ url, parameters });
    this.playing = true;
  }

  say(text, parameters) {
    this.emu._requireConnected('say');
    this.says.push({ text, parameters });
    this.playing = true;
  }

  stopPlayback() {
    this.stopPlaybackCalls += 1;
    this.playing = false; // VoxEngine does not fire PlaybackFinished after stopPlayback
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
          internalCode: 200, reason: 'Normal call clearing', duration: this.emu._secondsSinceConnect(),
          cost: 0, direction: 'pstn',
        });
      } else {
        this.emit(CALL_EVENTS.Failed, { code: 487, reason: 'Request Terminated' });
      }
    });
  }

  emit(name, fields) {
    this.listeners.emit(name, { call: this, name, id: this.id(), ...fields });
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

class VoxEmulator {
  /**
   * @param {object} options
   *   customData: object (JSON-encoded for the scenario) or raw string
   *   settings:   body of the default 200 answer to the settings GET
   *   sessionId:  AppEvents.Started sessionId
   *   get / post: lists of responses for the settings GET / the report POST; each item is a status code,
   *               {code, text|json, delayMs, reject}, or a function(request) returning one. The last item
   *               repeats. Defaults: GET 200 with `settings`, POST 200.
   *   autoEndOnHangup: whether call.hangup() makes the fake network end the call (default true)
   *   dialError:  if set, VoxEngine.callPSTN throws an Error with this message
   */
  constructor(options = {}) {
    this.options = options;
    this.now = 0;
    this.timers = [];
    this.timerSeq = 0;
    this.requests = [];
    this.responses = {
      GET: options.get ? [...options.get] : [{ code: 200, json: options.settings || {} }],
      POST: options.post ? [...options.post] : [{ code: 200, json: { status: 'ok' } }],
    };
    this.autoEndOnHangup = options.autoEndOnHangup !== false;
    this.sessionId = options.sessionId === undefined ? 4242 : options.sessionId;
    this.logs = [];
    this.appListeners = new Listeners();
    this.dials = [];
    this.call = null;
    this.detector = null;
    this.terminateCalls = 0;
    this.terminatedAt = null;
    this.context = null;
  }

  // ---- scenario loading ------------------------------------------------------------------------

  async start() {
    this._load();
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
    vm.runInContext(fs.readFileSync(SCENARIO_PATH, 'utf8'), this.context, { filename: SCENARIO_PATH });
  }

  // ---- clock -----------------------------------------------------------------------------------

  _setTimeout(fn, ms, args) {
    if (typeof fn !== 'function') throw new TypeError('setTimeout needs a function');
    this.timerSeq += 1;
    const delay = Math.max(0, Number(ms) || 0);
    this.timers.push({ id: this.timerSeq, due: this.now + delay, fn, args });
    return this.timerSeq;
  }

  _clearTimeout(id) {
    this.timers = this.timers.filter((t) => t.id !== id);
  }

  /** Timers still pending, as [{id, due}] (ms on the fake clock). */
  get pendingTimers() {
    return this.timers.map(({ id, due }) => ({ id, due }));
  }

  /** Let promise callbacks (in the scenario and here) run. */
  async flush() {
    for (let i = 0; i < 3; i += 1) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Move the clock forward, running every timer that comes due, in order. */
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
      if (this.terminateCalls === 0) due.fn(...due.args); // a terminated session runs no timers
      await this.flush();
    }
    this.now = target;
    await this.flush();
  }

  _secondsSinceConnect() {
    return this.call && this.call.connectedAt !== null ? Math.round((this.now - this.call.connectedAt) / 1000) : 0;
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  _httpRequest(url, options = {}) {
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
      method, url, options: plainCopy(options), body, at: this.now, afterTerminate: this.terminateCalls > 0,
    };
    this.requests.push(request);
    const queue = this.responses[method] || [{ code: 200 }];
    const spec = queue.length > 1 ? queue.shift() : queue[0];
    const response = normalizeResponse(spec, request);
    request.response = response;
    return new Promise((resolve, reject) => {
      const settle = () => {
        if (response.reject) reject(new Error(response.reject));
        else resolve({ code: response.code, text: response.text, headers: [], raw_headers: '' });
      };
      if (response.delayMs) this._setTimeout(settle, response.delayMs, []);
      else settle();
    });
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

  /** Parsed JSON bodies of every POST (one per report attempt). */
  get reports() {
    return this.posts.map((r) => r.body);
  }

  // ---- VoxEngine calls -------------------------------------------------------------------------

  _createDetector(parameters) {
    this.detector = new FakeDetector(this, parameters);
    return this.detector;
  }

  _callPSTN(number, callerid, parameters) {
    if (this.call) throw new Error('emulator supports one call per session');
    if (this.options.dialError) throw new Error(this.options.dialError);
    this.dials.push({ number, callerid, parameters });
    this.call = new FakeCall(this, number, callerid, parameters);
    return this.call;
  }

  _terminate() {
    this.terminateCalls += 1;
    if (this.terminateCalls > 1) return;
    this.terminatedAt = this.now;
    this.timers = [];
    queueMicrotask(() => {
      this.appListeners.emit(APP_EVENTS.Terminating, { name: APP_EVENTS.Terminating });
      this.appListeners.emit(APP_EVENTS.Terminated, { name: APP_EVENTS.Terminated });
    });
  }

  _requireConnected(what) {
    if (!this.call || this.call.status !== 'CONNECTED') {
      throw new Error(`${what} on a call that is not connected`);
    }
  }

  // ---- the remote side ---------------------------------------------------------------------------

  _requireCall() {
    if (!this.call) throw new Error('the scenario has not dialed');
    return this.call;
  }

  /** The callee answers. */
  async connect() {
    const call = this._requireCall();
    call.status = 'CONNECTED';
    call.connectedAt = this.now;
    call.emit(CALL_EVENTS.Connected, { headers: {} });
    await this.flush();
  }

  /** The call fails before answer (busy, no answer, invalid number, ...). */
  async fail(code, reason) {
    const call = this._requireCall();
    call.status = 'TERMINATED';
    call.emit(CALL_EVENTS.Failed, { code, reason, headers: {} });
    await this.flush();
  }

  /** The callee (or the network) ends a connected call; duration defaults to the clock. */
  async disconnect(fields = {}) {
    const call = this._requireCall();
    call.status = 'TERMINATED';
    call.playing = false;
    call.emit(CALL_EVENTS.Disconnected, {
      internalCode: 200, reason: 'Normal call clearing', duration: this._secondsSinceConnect(),
      cost: 0.01, direction: 'pstn', headers: {}, ...fields,
    });
    await this.flush();
  }

  async amdResult(resultClass, fields = {}) {
    const call = this._requireCall();
    this.detector.listeners.emit(AMD_EVENTS.DetectionComplete, {
      amd: this.detector, call, callId: call.id(), resultClass, resultSubtype: 'NONE', confidence: 90, ...fields,
    });
    await this.flush();
  }

  async amdError(message) {
    const call = this._requireCall();
    this.detector.listeners.emit(AMD_EVENTS.DetectionError, { amd: this.detector, callId: call.id(), message });
    await this.flush();
  }

  /** The callee presses a key (only delivered after handleTones(true), like VoxEngine). */
  async pressKey(tone) {
    const call = this._requireCall();
    if (call.handleTonesCalls[call.handleTonesCalls.length - 1] !== true) return;
    call.emit(CALL_EVENTS.ToneReceived, { tone: String(tone), type: '1' });
    await this.flush();
  }

  /** The current playback (recording or TTS) ends, optionally with an error. */
  async finishPlayback(fields = {}) {
    const call = this._requireCall();
    if (!call.playing) throw new Error('nothing is playing');
    call.playing = false;
    call.emit(CALL_EVENTS.PlaybackFinished, fields);
    await this.flush();
  }

  /** VoxEngine ends the session on its own (e.g. a session limit). */
  async platformTerminates() {
    this.appListeners.emit(APP_EVENTS.Terminating, { name: APP_EVENTS.Terminating });
    await this.flush();
  }
}

module.exports = { VoxEmulator, APP_EVENTS, CALL_EVENTS, AMD_EVENTS, AMD_MODELS };
