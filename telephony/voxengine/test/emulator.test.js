'use strict';
// The emulator must be as strict as VoxEngine, or the scenario tests prove nothing. Each test runs a
// tiny scenario of its own against one documented behaviour (references in emulator.js).
// Run: node --test telephony/voxengine/test/*.test.js
const test = require('node:test');
const assert = require('node:assert/strict');

const { VoxEmulator, MODULES } = require('./emulator');

/** Loads `body` as the scenario, inside AppEvents.Started; `window.out` collects what it wants to show. */
async function run(body, options = {}) {
  const source = `var out = {}; VoxEngine.addEventListener(AppEvents.Started, function () { ${body} });`;
  const emu = new VoxEmulator({ customData: {}, source, ...options });
  await emu.start();
  return emu;
}

function out(emu) {
  return emu.context.out;
}

test('a module global used without require(Modules.X) is not defined, as in VoxEngine', async () => {
  await assert.rejects(run('out.events = ASREvents.Result;'), { name: 'ReferenceError', message: /ASREvents/ });
  await assert.rejects(run('out.storage = ApplicationStorage;'), { name: 'ReferenceError' });
  await assert.rejects(run('VoxEngine.createASR({});'), { name: 'TypeError', message: /createASR/ });
});

test('require(Modules.X) defines exactly that module\'s globals', async () => {
  const emu = await run(`
    require(Modules.ASR);
    out.asr = typeof ASREvents;
    out.createASR = typeof VoxEngine.createASR;
    out.conference = typeof ConferenceEvents;
  `);
  assert.deepEqual({ ...out(emu) }, { asr: 'object', createASR: 'function', conference: 'undefined' });
});

test('every Modules member can be required; anything else cannot', async () => {
  const emu = await run('Object.keys(Modules).forEach(function (key) { require(Modules[key]); }); out.ok = true;');
  assert.equal(out(emu).ok, true);
  assert.equal(Object.keys(MODULES).length, 18, 'the members of enum Modules in the typings');
  await assert.rejects(run('require("amd");'), /not a member of Modules/);
});

test('AMD is built in: no require, and Modules has no AMD member', async () => {
  const emu = await run('out.amd = typeof AMD.create; out.member = typeof Modules.AMD;');
  assert.deepEqual({ ...out(emu) }, { amd: 'function', member: 'undefined' });
});

test('a session without a call ends after 60 s: Terminating then Terminated', async () => {
  const emu = await run(`
    out.events = [];
    VoxEngine.addEventListener(AppEvents.Terminating, function () { out.events.push('Terminating'); });
    VoxEngine.addEventListener(AppEvents.Terminated, function () { out.events.push('Terminated'); });
  `);
  await emu.advance(59999);
  assert.equal(emu.phase, 'running');
  await emu.advance(1);
  assert.deepEqual([...out(emu).events], ['Terminating', 'Terminated']);
  assert.equal(emu.endReason, 'no calls for 60 s');
});

test('the 60 s without a call count again from the end of the last call', async () => {
  const emu = await run('out.call = VoxEngine.callPSTN("+79120000001", "74950000000");');
  await emu.advance(120000);
  assert.equal(emu.phase, 'running', 'a call is in progress');
  await emu.fail(486, 'Busy Here');
  await emu.advance(59999);
  assert.equal(emu.phase, 'running');
  await emu.advance(1);
  assert.equal(emu.phase, 'terminated');
});

test('timers do not fire once the session is ending', async () => {
  const emu = await run(`
    out.fired = [];
    setTimeout(function () { out.fired.push('before'); }, 1000);
    setTimeout(function () { out.fired.push('after'); }, 5000);
    setTimeout(function () { VoxEngine.terminate(); }, 2000);
    VoxEngine.addEventListener(AppEvents.Terminating, function () {
      setTimeout(function () { out.fired.push('in Terminating'); }, 0);
    });
  `);
  await emu.advance(60000);
  assert.deepEqual([...out(emu).fired], ['before']);
});

test('AppEvents.Terminating allows exactly one HTTP request; Terminated none', async () => {
  const emu = await run(`
    out.errors = [];
    function attempt(label) {
      try { Net.httpRequestAsync('https://example.test/' + label); } catch (e) { out.errors.push(label + ': ' + e.message); }
    }
    VoxEngine.addEventListener(AppEvents.Terminating, function () { attempt('first'); attempt('second'); });
    VoxEngine.addEventListener(AppEvents.Terminated, function () { attempt('third'); });
    VoxEngine.terminate();
  `, { get: [{ code: 200, delayMs: 2000 }] });
  await emu.advance(1000);
  assert.equal(emu.phase, 'terminating', 'Terminated waits for the one request');
  await emu.advance(5000);
  assert.deepEqual(emu.requests.map((r) => r.url), ['https://example.test/first']);
  assert.deepEqual([...out(emu).errors], [
    'second: AppEvents.Terminating allows only one HTTP request',
    'third: no HTTP request is possible after Terminated',
  ]);
});

test('at most 3 requests run at once, the rest wait in a queue; the 36th open request throws', async () => {
  const emu = await run(`
    out.codes = [];
    for (var i = 0; i < 5; i++) {
      Net.httpRequestAsync('https://example.test/' + i).then(function (r) { out.codes.push(r.code); });
    }
  `, { get: [{ code: 200, delayMs: 1000 }] });
  assert.deepEqual(emu.requests.map((r) => r.startedAt), [0, 0, 0, null, null]);
  await emu.advance(1000);
  assert.deepEqual(emu.requests.map((r) => r.startedAt), [0, 0, 0, 1000, 1000]);
  await emu.advance(1000);
  assert.deepEqual([...out(emu).codes], [200, 200, 200, 200, 200]);

  await assert.rejects(run(`
    for (var i = 0; i < 36; i++) { Net.httpRequestAsync('https://example.test/' + i); }
  `, { get: [{ code: 200, delayMs: 1000 }] }), /Exceeded the HTTP connection count limit!/);
});

test('timeouts are seconds: a slow answer gives code -7 at the timeout; a larger value means the 90 s default', async () => {
  const emu = await run(`
    out.codes = {};
    function get(label, options) {
      Net.httpRequestAsync('https://example.test/' + label, options).then(function (r) { out.codes[label] = r.code; });
    }
    get('five-seconds', { timeout: 5 });
    get('milliseconds-by-mistake', { timeout: 5000 });
    get('connect', { connectionTimeout: 2 });
  `, { get: [{ code: 200, delayMs: 120000 }, { code: 200, delayMs: 120000 }, { code: 200, connectMs: 10000 }] });
  await emu.advance(120000);
  assert.deepEqual(emu.requests.map((r) => [r.url.split('/').pop(), r.settledAt]), [
    ['five-seconds', 5000], ['milliseconds-by-mistake', 90000], ['connect', 2000],
  ]);
  assert.deepEqual({ ...out(emu).codes }, { 'five-seconds': -7, 'milliseconds-by-mistake': -7, connect: -7 });
});

test('a request without explicit timeouts waits 90 s, longer than a session without a call lives', async () => {
  const emu = await run(`
    VoxEngine.addEventListener(AppEvents.Terminating, function () { out.terminatingAt = Date.now(); });
    Net.httpRequestAsync('https://example.test/slow').then(function (r) { out.code = r.code; });
  `, { get: [{ code: 200, delayMs: 600000 }] });
  await emu.advance(200000);
  // the session ends at 60 s; VoxEngine waits for the running request, which times out at 90 s
  assert.equal(out(emu).code, -7);
  assert.equal(out(emu).terminatingAt, 90000);
});

test('options the typings do not list, or of the wrong type, are refused', async () => {
  await assert.rejects(run("Net.httpRequestAsync('https://example.test/', { timeoutMs: 5 });"), /unknown option "timeoutMs"/);
  await assert.rejects(run("Net.httpRequestAsync('https://example.test/', { timeout: '5' });"), /timeout must be a positive/);
  await assert.rejects(run("Net.httpRequestAsync('https://example.test/', { headers: { 'X-N': 1 } });"), /must be a string/);
});

// ---- several calls, joining them, recording (the seller branches) -------------------------------

test('sendMediaBetween joins two connected calls of the session and refuses anything else', async () => {
  const emu = await run(`
    out.a = VoxEngine.callPSTN('+79160000001', '74950000000');
    out.b = VoxEngine.callPSTN('+79160000002', '74950000000');
  `);
  const [a, b] = emu.calls;
  await emu.connect(a);
  assert.throws(() => emu.context.VoxEngine.sendMediaBetween(a, b), /not connected/);
  await emu.connect(b);
  assert.throws(() => emu.context.VoxEngine.sendMediaBetween(a, {}), /not a media unit/);
  assert.throws(() => emu.context.VoxEngine.sendMediaBetween(a, a), /itself/);
  emu.context.VoxEngine.sendMediaBetween(a, b);
  assert.deepEqual(emu.media, [[a, b]]);
});

test('Call.record needs its parameters object, takes only CallRecordParameters, and gives the URL in RecordStarted',
  async () => {
    const emu = await run(`out.call = VoxEngine.callPSTN('+79160000001', '74950000000');`);
    const call = emu.call;
    assert.throws(() => call.record({}), /not connected/);
    await emu.connect();
    assert.throws(() => call.record(), /parameters are required/);
    assert.throws(() => call.record({ stereo: true, bogus: 1 }), /unknown parameter bogus/);
    const seen = [];
    call.addEventListener('Call.RecordStarted', (e) => seen.push(['started', e.url]));
    call.addEventListener('Call.RecordStopped', (e) => seen.push(['stopped', e.url]));
    call.record({ stereo: true });
    await emu.flush();
    await emu.disconnect();
    assert.deepEqual(seen.map((s) => s[0]), ['started', 'stopped']);
    assert.match(seen[0][1], /^https:\/\/records\.example\.test\//);
  });

test('the 60 s no-call limit starts only when the last of several calls has ended', async () => {
  const emu = await run(`
    VoxEngine.callPSTN('+79160000001', '74950000000');
    VoxEngine.callPSTN('+79160000002', '74950000000');
  `);
  const [a, b] = emu.calls;
  await emu.fail(486, 'Busy Here', a);
  await emu.advance(70000);
  assert.equal(emu.phase, 'running', 'one call is still up');
  await emu.fail(480, 'Temporarily Unavailable', b);
  await emu.advance(61000);
  assert.notEqual(emu.phase, 'running');
});
