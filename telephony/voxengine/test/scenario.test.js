'use strict';
// Tests for the VoxEngine scenario (leadcaller.js), run against the emulator in ./emulator.js.
// Run: node --test telephony/voxengine/test/*.test.js
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const assert = require('node:assert/strict');

const { VoxEmulator } = require('./emulator');

const SOURCE = fs.readFileSync(path.join(__dirname, '..', 'leadcaller.js'), 'utf8');
// The same line telephony/scenario.py reads: the version this scenario declares.
const SCENARIO_VERSION = Number(/^\s*var SCENARIO_VERSION = (\d+);/m.exec(SOURCE)[1]);
// What each Net.httpRequestAsync call must carry, in seconds (VoxEngine's unit for both).
const SETTINGS_LIMITS = { timeout: 6, connectionTimeout: 4 };
const REPORT_LIMITS = { timeout: 8, connectionTimeout: 4 };

const CALLBACK_URL = 'https://leads.example.test/api/v1/telephony/voximplant/callback/';
const TOKEN = '42.a+b/c=d';
const SESSION_ID = 987654321;
const RECORDING_URL = 'https://cdn.example.test/recordings/hello.mp3';
const DISCLOSURE = 'This is an automated call from Shop. If you do not want us to call you again, press 9.';
const OPT_OUT_TEXT = 'You will not be called again. Goodbye.';
// What the scenario says when the server's settings never came (its built-in texts).
const DEFAULT_DISCLOSURE = 'Это автоматический звонок. Если вы не хотите, чтобы мы вам звонили, нажмите 9.';

const CUSTOM = { attempt_id: 42, token: TOKEN, phone: '+79120000001', callback_url: CALLBACK_URL };
const CUSTOM_WITHOUT_PHONE = { attempt_id: 42, token: TOKEN, callback_url: CALLBACK_URL };

const SETTINGS = {
  phone: '+79120000001',
  caller_id: '74950000000',
  recording_url: RECORDING_URL,
  tts_text: '',
  tts_voice: '',
  amd_model: 'ru',
  amd_timeout_ms: 6500,
  callback_digit: '1',
  key_wait_seconds: 5,
  disclosure_url: '',
  disclosure_text: DISCLOSURE,
  opt_out_digit: '9',
  opt_out_text: OPT_OUT_TEXT,
};

/** The exact JSON body the scenario must POST, with the fields a test cares about. */
function report(fields) {
  return {
    attempt_id: 42,
    token: TOKEN,
    result: fields.result,
    duration: 0,
    digits: '',
    call_session_history_id: SESSION_ID,
    detail: '',
    scenario_version: SCENARIO_VERSION,
    version_mismatch: false,
    ...fields,
  };
}

/** Starts the scenario; with the default GET answer it has dialed when this returns. */
async function started(options = {}) {
  const emu = new VoxEmulator({ customData: CUSTOM, settings: SETTINGS, sessionId: SESSION_ID, ...options });
  await emu.start();
  return emu;
}

/** Dialed, rang for `ringMs`, answered. */
async function answered(options = {}, ringMs = 10000) {
  const emu = await started(options);
  await emu.advance(ringMs);
  await emu.connect();
  return emu;
}

/** The session reported exactly `expected` (one POST) and terminated once, with nothing sent afterwards. */
async function assertReportedOnce(emu, expected) {
  await emu.advance(300000); // nothing more may happen, however long we wait
  assert.deepEqual(emu.reports, [expected]);
  const post = emu.posts[0];
  assert.equal(post.url, CALLBACK_URL);
  assert.deepEqual(post.options, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, postData: post.options.postData, ...REPORT_LIMITS,
  });
  assert.equal(typeof post.options.postData, 'string');
  assertTerminatedOnce(emu);
}

/** The disclosure is said first (no recording of it in SETTINGS); it ends now and the message begins. */
async function disclosed(emu, text = DISCLOSURE) {
  assert.equal(emu.call.says[0].text, text);
  assert.deepEqual(emu.call.playbacks, [], 'nothing else plays during the disclosure');
  await emu.finishPlayback();
}

function assertTerminatedOnce(emu) {
  assert.equal(emu.terminateCalls, 1, 'VoxEngine.terminate() is called exactly once');
  assert.equal(emu.phase, 'terminated');
  assert.deepEqual(emu.requests.filter((r) => r.phase !== 'running'), [], 'no HTTP request after terminate()');
}

// ---- settings and dialing ----------------------------------------------------------------------

test('fetches the settings with the attempt id and the url-encoded token, then dials with AMD', async () => {
  const emu = await started();

  assert.equal(emu.gets.length, 1);
  const get = emu.gets[0];
  assert.equal(get.url, `${CALLBACK_URL}?attempt_id=42&token=42.a%2Bb%2Fc%3Dd`);
  assert.deepEqual(get.options, { method: 'GET', headers: { Accept: 'application/json' }, ...SETTINGS_LIMITS });

  assert.equal(emu.dials.length, 1);
  const dial = emu.dials[0];
  assert.equal(dial.number, '+79120000001');
  assert.equal(dial.callerid, '74950000000');
  assert.equal(dial.parameters.amd, emu.detector);
  assert.deepEqual(emu.detector.parameters, { model: 'ru', timeout: 6500 });
  assert.equal(emu.detector.listeners.count('AMD.Events.DetectionComplete'), 1);
  assert.equal(emu.detector.listeners.count('AMD.Events.DetectionError'), 1);
  assert.deepEqual(emu.posts, []);

  await emu.fail(486, 'Busy Here');
  await assertReportedOnce(emu, report({ result: 'busy', detail: '486 Busy Here' }));
  assert.equal(emu.gets.length, 1);
});

test('maps the AMD model name and clamps the AMD timeout', async () => {
  const cases = [
    [{ amd_model: 'kz', amd_timeout_ms: 3000 }, { model: 'kz', timeout: 3000 }],
    [{ amd_model: 'CO', amd_timeout_ms: 50000 }, { model: 'colombia', timeout: 20000 }],
    [{ amd_model: 'colombia', amd_timeout_ms: -5 }, { model: 'colombia', timeout: 0 }],
    [{ amd_model: 'nowhere', amd_timeout_ms: 'soon' }, { model: 'ru', timeout: 6500 }],
  ];
  for (const [settings, expected] of cases) {
    const emu = await started({ settings: { ...SETTINGS, ...settings } });
    assert.deepEqual(emu.detector.parameters, expected, JSON.stringify(settings));
    await emu.fail(480, 'Temporarily Unavailable');
    await assertReportedOnce(emu, report({ result: 'no_answer', detail: '480 Temporarily Unavailable' }));
  }
});

test('callPSTN throwing: failed "dial error: <message>"', async () => {
  const emu = await started({ dialError: 'Invalid number format' });
  assert.equal(emu.call, null);
  await assertReportedOnce(emu, report({ result: 'failed', detail: 'dial error: Invalid number format' }));
});

test('settings GET failing (500, then network error) then succeeding: dials with the fetched settings', async () => {
  const emu = await started({
    customData: CUSTOM_WITHOUT_PHONE,
    get: [500, { code: -4 }, { code: 200, json: { ...SETTINGS, phone: '+79125550000' } }],
  });
  assert.equal(emu.gets.length, 1);
  assert.equal(emu.dials.length, 0);

  await emu.advance(999);
  assert.equal(emu.gets.length, 1);
  await emu.advance(1);
  assert.equal(emu.gets.length, 2, 'second try 1 s later');
  assert.equal(emu.dials.length, 0);

  await emu.advance(2000);
  assert.equal(emu.gets.length, 3, 'third try 2 s after the second');
  assert.equal(emu.dials.length, 1);
  assert.equal(emu.dials[0].number, '+79125550000');

  await emu.connect();
  await emu.amdResult('VOICEMAIL');
  await assertReportedOnce(emu, report({ result: 'voicemail', detail: 'amd:VOICEMAIL' }));
  assert.equal(emu.gets.length, 3);
});

test('a settings answer that is not JSON is retried', async () => {
  const emu = await started({ get: [{ code: 200, text: '<html>oops</html>' }, { code: 200, json: SETTINGS }] });
  assert.equal(emu.dials.length, 0);
  await emu.advance(1000);
  assert.equal(emu.gets.length, 2);
  assert.equal(emu.dials.length, 1);
});

test('settings unavailable and no phone in custom data: failed "settings unavailable", never dials', async () => {
  const emu = await started({ customData: CUSTOM_WITHOUT_PHONE, get: [503] });
  await emu.advance(7000);
  assert.equal(emu.gets.length, 4, 'one try and three retries (1 s, 2 s, 4 s)');
  assert.deepEqual(emu.gets.map((g) => g.at), [0, 1000, 3000, 7000]);
  assert.equal(emu.dials.length, 0);
  await assertReportedOnce(emu, report({ result: 'failed', detail: 'settings unavailable' }));
});

test('settings GET refused with 403 is not retried', async () => {
  const emu = await started({ customData: CUSTOM_WITHOUT_PHONE, get: [403] });
  assert.equal(emu.gets.length, 1);
  await assertReportedOnce(emu, report({ result: 'failed', detail: 'settings unavailable' }));
  assert.equal(emu.gets.length, 1);
});

test('settings unavailable but custom data has phone and caller_id: dials and reports human', async () => {
  const emu = await started({ customData: { ...CUSTOM, caller_id: '74951112233' }, get: [{ code: -7 }] });
  await emu.advance(7000);
  assert.equal(emu.dials.length, 1);
  assert.equal(emu.dials[0].number, '+79120000001');
  assert.equal(emu.dials[0].callerid, '74951112233');

  await emu.connect();
  await emu.amdResult('HUMAN');
  // the built-in disclosure, then no message: keys are collected for key_wait_seconds (default 5 s)
  assert.deepEqual(emu.call.handleTonesCalls, [true]);
  await disclosed(emu, DEFAULT_DISCLOSURE);
  assert.deepEqual(emu.call.playbacks, []);
  assert.equal(emu.call.says.length, 1);
  await emu.advance(5000);
  await assertReportedOnce(emu, report({ result: 'human', duration: 5, detail: 'amd:HUMAN' }));
});

test('custom data that is not JSON: terminates without any request', async () => {
  const emu = await started({ customData: 'not json' });
  await emu.advance(300000);
  assert.deepEqual(emu.requests, []);
  assert.equal(emu.dials.length, 0);
  assertTerminatedOnce(emu);
});

// ---- answered calls ----------------------------------------------------------------------------

test('person answered: plays the recording, waits for keys, hangs up, reports human with no digits', async () => {
  const emu = await answered(); // t = 10 s
  await emu.advance(2000);
  await emu.amdResult('HUMAN'); // t = 12 s

  assert.deepEqual(emu.call.handleTonesCalls, [true], 'keys are heard from the disclosure on');
  await disclosed(emu);
  assert.deepEqual(emu.call.playbacks.map((p) => p.url), [RECORDING_URL]);
  assert.equal(emu.call.hangupCalls, 0);

  await emu.advance(20000);
  await emu.finishPlayback(); // t = 32 s
  await emu.advance(4999);
  assert.equal(emu.call.hangupCalls, 0, 'still waiting for a key');
  assert.deepEqual(emu.posts, []);
  await emu.advance(1); // t = 37 s: key wait over

  assert.equal(emu.call.hangupCalls, 1);
  assert.equal(emu.call.stopPlaybackCalls, 0);
  await assertReportedOnce(emu, report({ result: 'human', duration: 27, digits: '', detail: 'amd:HUMAN' }));
});

test('person pressed the callback key during playback: playback stopped early, human with digits "1"', async () => {
  const emu = await answered();
  await emu.advance(1500);
  await emu.amdResult('HUMAN');
  await emu.advance(3000);
  await emu.pressKey('1');

  assert.equal(emu.call.stopPlaybackCalls, 1);
  assert.equal(emu.call.hangupCalls, 1);
  await assertReportedOnce(emu, report({ result: 'human', duration: 5, digits: '1', detail: 'amd:HUMAN' }));
});

test('other keys are collected; the callback key during the wait ends the call at once', async () => {
  const emu = await answered();
  await emu.amdResult('HUMAN');
  await disclosed(emu);
  await emu.pressKey('3');
  assert.equal(emu.call.stopPlaybackCalls, 0);
  assert.equal(emu.call.hangupCalls, 0);
  await emu.advance(8000);
  await emu.finishPlayback();
  await emu.advance(2000);
  await emu.pressKey('1');

  assert.equal(emu.call.stopPlaybackCalls, 0, 'nothing was playing any more');
  await assertReportedOnce(emu, report({ result: 'human', duration: 10, digits: '31', detail: 'amd:HUMAN' }));
});

test('callback_digit "" disables ending early: keys are only collected', async () => {
  const emu = await answered({ settings: { ...SETTINGS, callback_digit: '', key_wait_seconds: 3 } });
  await emu.amdResult('HUMAN');
  await disclosed(emu);
  await emu.pressKey('1');
  assert.equal(emu.call.hangupCalls, 0);
  await emu.advance(4000);
  await emu.finishPlayback();
  await emu.advance(3000);
  await assertReportedOnce(emu, report({ result: 'human', duration: 7, digits: '1', detail: 'amd:HUMAN' }));
});

test('voicemail: hangs up without playing, reports voicemail', async () => {
  const emu = await answered();
  await emu.advance(4000);
  await emu.amdResult('VOICEMAIL');

  assert.deepEqual(emu.call.playbacks, []);
  assert.deepEqual(emu.call.handleTonesCalls, []);
  assert.equal(emu.call.hangupCalls, 1);
  await assertReportedOnce(emu, report({ result: 'voicemail', duration: 4, detail: 'amd:VOICEMAIL' }));
});

test('AMD TIMEOUT is treated as a person: human with detail "amd:TIMEOUT"', async () => {
  const emu = await answered();
  await emu.advance(6500);
  await emu.amdResult('TIMEOUT');
  await disclosed(emu);
  assert.deepEqual(emu.call.playbacks.map((p) => p.url), [RECORDING_URL]);
  await emu.advance(10000);
  await emu.finishPlayback();
  await emu.advance(5000);
  await assertReportedOnce(emu, report({ result: 'human', duration: 22, detail: 'amd:TIMEOUT' }));
});

test('AMD CALL_ENDED: no_answer "hung up during detection"', async () => {
  const emu = await answered();
  await emu.advance(3000);
  await emu.amdResult('CALL_ENDED');
  await emu.disconnect({ duration: 3 }); // the network's own Disconnected comes too
  assert.deepEqual(emu.call.playbacks, []);
  await assertReportedOnce(emu, report({ result: 'no_answer', duration: 3, detail: 'hung up during detection' }));
});

test('AMD error is treated as a person: plays, human with "amd error: <message>"', async () => {
  const emu = await answered();
  await emu.advance(1000);
  await emu.amdError('AMD service unavailable');
  await disclosed(emu);
  assert.deepEqual(emu.call.playbacks.map((p) => p.url), [RECORDING_URL]);
  await emu.advance(9000);
  await emu.finishPlayback();
  await emu.advance(5000);
  await assertReportedOnce(emu, report({
    result: 'human', duration: 15, detail: 'amd error: AMD service unavailable',
  }));
});

test('callee hangs up before AMD decided: no_answer "hung up during detection", duration from the event', async () => {
  const emu = await answered();
  await emu.advance(2000);
  await emu.disconnect({ duration: 2 });
  assert.equal(emu.call.hangupCalls, 0);
  await emu.amdResult('CALL_ENDED'); // late AMD event changes nothing
  await assertReportedOnce(emu, report({ result: 'no_answer', duration: 2, detail: 'hung up during detection' }));
});

test('callee hangs up during the message: human, duration taken from the Disconnected event', async () => {
  const emu = await answered();
  await emu.amdResult('HUMAN');
  await emu.advance(9000);
  await emu.disconnect({ duration: 11 }); // billing says 11 s although the clock says 9 s
  assert.equal(emu.call.hangupCalls, 0);
  await assertReportedOnce(emu, report({ result: 'human', duration: 11, detail: 'amd:HUMAN' }));
});

// ---- text to speech ----------------------------------------------------------------------------

test('no recording: says tts_text with the configured VoiceList voice', async () => {
  const emu = await answered({
    settings: { ...SETTINGS, recording_url: '', tts_text: 'Здравствуйте! Нажмите 1.', tts_voice: 'YandexV3.ru_RU_filipp' },
  });
  await emu.amdResult('HUMAN');
  await disclosed(emu);
  assert.deepEqual(emu.call.playbacks, []);
  assert.equal(emu.call.says.length, 2);
  assert.equal(emu.call.says[1].text, 'Здравствуйте! Нажмите 1.');
  assert.deepEqual(emu.call.says.map((say) => say.parameters.voice.name), ['YandexV3.ru_RU_filipp',
    'YandexV3.ru_RU_filipp'], 'the disclosure and the message in the same voice');
  await emu.advance(6000);
  await emu.finishPlayback();
  await emu.advance(5000);
  await assertReportedOnce(emu, report({ result: 'human', duration: 11, detail: 'amd:HUMAN' }));
});

test('TTS voice: empty or unknown falls back to a Russian voice; legacy names are looked up', async () => {
  const cases = [
    [{ tts_voice: '' }, {}, 'YandexV3.ru_RU_alena'],
    [{ tts_voice: 'Nope.nobody' }, {}, 'YandexV3.ru_RU_alena'],
    [{ tts_voice: 'RU_RUSSIAN_FEMALE' }, { language: { RU_RUSSIAN_FEMALE: { name: 'legacy female' } } }, 'legacy female'],
  ];
  for (const [settings, options, voiceName] of cases) {
    const emu = await answered({ ...options, settings: { ...SETTINGS, recording_url: '', tts_text: 'Привет', ...settings } });
    await emu.amdResult('HUMAN');
    assert.equal(emu.call.says[0].parameters.voice.name, voiceName, JSON.stringify(settings));
    await emu.pressKey('1');
    await assertReportedOnce(emu, report({ result: 'human', digits: '1', detail: 'amd:HUMAN' }));
  }
});

test('recording that cannot be played falls back to tts_text', async () => {
  const emu = await answered({ settings: { ...SETTINGS, tts_text: 'Запасной текст' } });
  await emu.amdResult('HUMAN');
  await disclosed(emu);
  await emu.advance(1000);
  await emu.finishPlayback({ error: 'HTTP 404' });
  assert.deepEqual(emu.call.says.map((s) => s.text), [DISCLOSURE, 'Запасной текст']);
  assert.equal(emu.call.hangupCalls, 0);
  await emu.advance(4000);
  await emu.finishPlayback();
  await emu.advance(5000);
  await assertReportedOnce(emu, report({ result: 'human', duration: 10, detail: 'amd:HUMAN' }));
});

// ---- the disclosure and the opt-out key ----------------------------------------------------------

test('a disclosure recording plays first, then the message; keys are heard from the disclosure on', async () => {
  const disclosureUrl = 'https://cdn.example.test/recordings/disclosure.mp3';
  const emu = await answered({ settings: { ...SETTINGS, disclosure_url: disclosureUrl } });
  await emu.amdResult('HUMAN');
  assert.deepEqual(emu.call.handleTonesCalls, [true]);
  assert.deepEqual(emu.call.playbacks.map((p) => p.url), [disclosureUrl]);
  await emu.advance(4000);
  await emu.pressKey('5'); // any key but the two is only collected
  await emu.finishPlayback();
  assert.deepEqual(emu.call.playbacks.map((p) => p.url), [disclosureUrl, RECORDING_URL]);
  assert.deepEqual(emu.call.says, []);
  await emu.advance(6000);
  await emu.finishPlayback();
  await emu.advance(5000);
  await assertReportedOnce(emu, report({ result: 'human', duration: 15, digits: '5', detail: 'amd:HUMAN' }));
});

test('a disclosure recording that cannot be played falls back to the disclosure text', async () => {
  const emu = await answered({ settings: { ...SETTINGS, disclosure_url: 'https://cdn.example.test/missing.mp3' } });
  await emu.amdResult('HUMAN');
  await emu.finishPlayback({ error: 'HTTP 404' });
  assert.deepEqual(emu.call.says.map((say) => say.text), [DISCLOSURE]);
  assert.equal(emu.call.playbacks.length, 1, 'the message waits for the disclosure');
  await emu.finishPlayback();
  assert.deepEqual(emu.call.playbacks.map((p) => p.url), ['https://cdn.example.test/missing.mp3', RECORDING_URL]);
});

test('a server that sends an empty disclosure or opt-out key does not silence them: the built-in ones are used',
  async () => {
    const emu = await answered({ settings: { ...SETTINGS, disclosure_text: '', opt_out_digit: '', opt_out_text: '' } });
    await emu.amdResult('HUMAN');
    await disclosed(emu, DEFAULT_DISCLOSURE);
    await emu.pressKey('9');
    assert.equal(emu.call.says[1].text, 'Мы больше не будем вам звонить. До свидания.');
    await emu.finishPlayback();
    await assertReportedOnce(emu, report({ result: 'opted_out', digits: '9', detail: 'amd:HUMAN' }));
  });

test('the opt-out key during the disclosure: it stops, the confirmation is said, then opted_out', async () => {
  const emu = await answered();
  await emu.amdResult('HUMAN');
  await emu.advance(3000);
  await emu.pressKey('9');

  assert.equal(emu.call.stopPlaybackCalls, 1, 'the disclosure is cut short');
  assert.deepEqual(emu.call.says.map((say) => say.text), [DISCLOSURE, OPT_OUT_TEXT]);
  assert.equal(emu.call.says[1].parameters.voice.name, 'YandexV3.ru_RU_alena', 'the site\'s voice');
  assert.equal(emu.call.hangupCalls, 0, 'the person hears the confirmation first');
  await emu.pressKey('1'); // keys during the confirmation change nothing
  await emu.advance(2000);
  await emu.finishPlayback();

  assert.equal(emu.call.hangupCalls, 1);
  assert.deepEqual(emu.call.playbacks, [], 'the message is never played');
  await assertReportedOnce(emu, report({ result: 'opted_out', duration: 5, digits: '9', detail: 'amd:HUMAN' }));
});

test('the opt-out key during the message stops the recording; opted_out with every key pressed', async () => {
  const emu = await answered();
  await emu.amdResult('HUMAN');
  await disclosed(emu);
  await emu.advance(2000);
  await emu.pressKey('3');
  await emu.pressKey('9');

  assert.deepEqual(emu.call.playbacks.map((p) => p.url), [RECORDING_URL]);
  assert.equal(emu.call.stopPlaybackCalls, 1);
  assert.equal(emu.call.says[1].text, OPT_OUT_TEXT);
  await emu.advance(3000);
  await emu.finishPlayback();
  await assertReportedOnce(emu, report({ result: 'opted_out', duration: 5, digits: '39', detail: 'amd:HUMAN' }));
});

test('the opt-out key right after the message, while keys are awaited: opted_out, not human', async () => {
  const emu = await answered();
  await emu.amdResult('HUMAN');
  await disclosed(emu);
  await emu.advance(8000);
  await emu.finishPlayback();
  await emu.advance(4000); // 1 s of the wait left
  await emu.pressKey('9');
  await emu.advance(1000); // the wait would have ended here
  assert.equal(emu.call.hangupCalls, 0, 'the wait no longer ends the call');
  assert.equal(emu.call.stopPlaybackCalls, 0, 'nothing was playing');
  await emu.advance(2000);
  await emu.finishPlayback();
  await assertReportedOnce(emu, report({ result: 'opted_out', duration: 15, digits: '9', detail: 'amd:HUMAN' }));
});

test('the callee hangs up during the confirmation: still opted_out, duration from the event', async () => {
  const emu = await answered();
  await emu.amdResult('HUMAN');
  await emu.pressKey('9');
  await emu.advance(1000);
  await emu.disconnect({ duration: 2 });
  assert.equal(emu.call.hangupCalls, 0);
  await assertReportedOnce(emu, report({ result: 'opted_out', duration: 2, digits: '9', detail: 'amd:HUMAN' }));
});

test('a confirmation whose end never comes: the call is ended 15 s after the key', async () => {
  const emu = await answered();
  await emu.amdResult('HUMAN');
  await emu.pressKey('9');
  await emu.advance(14999);
  assert.equal(emu.call.hangupCalls, 0);
  await emu.advance(1);
  assert.equal(emu.call.hangupCalls, 1);
  await assertReportedOnce(emu, report({ result: 'opted_out', duration: 15, digits: '9', detail: 'amd:HUMAN' }));
});

test('the callback key during the disclosure asks for a call back, as before: human "1", no opt-out', async () => {
  const emu = await answered();
  await emu.amdResult('HUMAN');
  await emu.pressKey('1');
  assert.equal(emu.call.stopPlaybackCalls, 1);
  assert.deepEqual(emu.call.says.map((say) => say.text), [DISCLOSURE], 'no confirmation of an opt-out');
  await assertReportedOnce(emu, report({ result: 'human', digits: '1', detail: 'amd:HUMAN' }));
});

test('the site\'s own opt-out key: 0 opts out, 9 is only collected', async () => {
  const emu = await answered({ settings: { ...SETTINGS, opt_out_digit: '0' } });
  await emu.amdResult('HUMAN');
  await emu.pressKey('9');
  assert.equal(emu.call.says.length, 1, 'still the disclosure');
  await emu.pressKey('0');
  assert.equal(emu.call.says[1].text, OPT_OUT_TEXT);
  await emu.finishPlayback();
  await assertReportedOnce(emu, report({ result: 'opted_out', digits: '90', detail: 'amd:HUMAN' }));
});

test('an opt-out key equal to the callback key (a misconfiguration) opts out: the safe reading', async () => {
  const emu = await answered({ settings: { ...SETTINGS, opt_out_digit: '1' } });
  await emu.amdResult('HUMAN');
  await emu.pressKey('1');
  assert.equal(emu.call.says[1].text, OPT_OUT_TEXT);
  await emu.finishPlayback();
  await assertReportedOnce(emu, report({ result: 'opted_out', digits: '1', detail: 'amd:HUMAN' }));
});

test('voicemail never hears the disclosure and cannot opt out', async () => {
  const emu = await answered();
  await emu.amdResult('VOICEMAIL');
  await emu.pressKey('9'); // tones were never turned on
  assert.deepEqual(emu.call.says, []);
  await assertReportedOnce(emu, report({ result: 'voicemail', detail: 'amd:VOICEMAIL' }));
});

// ---- voicemail_action: a message left after the beep ---------------------------------------------

const VOICEMAIL_URL = 'https://cdn.example.test/recordings/voicemail.mp3';

test('voicemail "message": waits for the beep, plays the call\'s recording, no disclosure, no keys', async () => {
  const emu = await answered({ settings: { ...SETTINGS, voicemail_action: 'message' } });
  await emu.advance(3000);
  await emu.amdResult('VOICEMAIL'); // t = 13 s

  assert.deepEqual(emu.call.beepDetection, { timeout: 20000 });
  assert.deepEqual(emu.call.playbacks, [], 'nothing plays over the greeting');
  assert.equal(emu.call.hangupCalls, 0);
  await emu.advance(6000);
  await emu.beep(); // t = 19 s
  assert.deepEqual(emu.call.playbacks.map((p) => p.url), [RECORDING_URL]);
  assert.deepEqual(emu.call.says, [], 'no disclosure is said to a machine');
  assert.deepEqual(emu.call.handleTonesCalls, []);
  await emu.advance(15000);
  await emu.finishPlayback(); // t = 34 s

  assert.equal(emu.call.hangupCalls, 1);
  await assertReportedOnce(emu, report({ result: 'voicemail', duration: 24, detail: 'amd:VOICEMAIL, message left' }));
});

test('voicemail "recording": leaves the voicemail recording; one that fails to play falls back to the text', async () => {
  const emu = await answered({ settings: { ...SETTINGS, voicemail_action: 'recording', voicemail_url: VOICEMAIL_URL,
    tts_text: 'Call us back' } });
  await emu.amdResult('VOICEMAIL');
  await emu.beep({ timeout: true }); // no beep within the timeout: the message is left anyway
  assert.deepEqual(emu.call.playbacks.map((p) => p.url), [VOICEMAIL_URL]);
  await emu.finishPlayback({ error: 'not found' });
  assert.deepEqual(emu.call.says.map((s) => s.text), ['Call us back']);
  await emu.finishPlayback();
  await assertReportedOnce(emu, report({ result: 'voicemail', detail: 'amd:VOICEMAIL, message left' }));
});

test('voicemail "recording" without a voicemail recording leaves the call\'s message; a beep error does not stop it',
  async () => {
    const emu = await answered({ settings: { ...SETTINGS, voicemail_action: 'recording', voicemail_url: '' } });
    await emu.amdResult('VOICEMAIL');
    await emu.beepError('media error');
    assert.deepEqual(emu.call.playbacks.map((p) => p.url), [RECORDING_URL]);
    await emu.finishPlayback();
    await assertReportedOnce(emu, report({ result: 'voicemail', detail: 'amd:VOICEMAIL, message left' }));
  });

test('the machine hangs up while the message is left: voicemail, duration from the event', async () => {
  const emu = await answered({ settings: { ...SETTINGS, voicemail_action: 'message' } });
  await emu.amdResult('VOICEMAIL');
  await emu.beep();
  await emu.advance(7000);
  await emu.disconnect({ duration: 7 });
  await assertReportedOnce(emu, report({ result: 'voicemail', duration: 7,
    detail: 'amd:VOICEMAIL, hung up while leaving the message' }));
});

test('a message whose end never comes is cut off after 90 s; an unknown action hangs up at once', async () => {
  const emu = await answered({ settings: { ...SETTINGS, voicemail_action: 'message' } });
  await emu.amdResult('VOICEMAIL');
  await emu.advance(89999);
  assert.equal(emu.call.hangupCalls, 0);
  await emu.advance(1);
  assert.equal(emu.call.hangupCalls, 1);
  await assertReportedOnce(emu, report({ result: 'voicemail', duration: 90, detail: 'amd:VOICEMAIL, message left' }));

  const other = await answered({ settings: { ...SETTINGS, voicemail_action: 'sing' } });
  await other.amdResult('VOICEMAIL');
  assert.equal(other.call.beepDetection, null);
  await assertReportedOnce(other, report({ result: 'voicemail', detail: 'amd:VOICEMAIL' }));
});

test('settings unavailable: the voicemail action in the custom data is used ("vm": "m", compact)', async () => {
  const emu = new VoxEmulator({ customData: { ...CUSTOM, caller_id: '74950000000', vm: 'm' },
    settings: SETTINGS, sessionId: SESSION_ID, get: [500, 500, 500, 500] });
  await emu.start();
  await emu.advance(8000);
  await emu.connect();
  await emu.amdResult('VOICEMAIL');
  assert.deepEqual(emu.call.beepDetection, { timeout: 20000 });
});

// ---- not answered --------------------------------------------------------------------------------

const FAILURES = [
  [408, 'Request Timeout', 'no_answer', 'no answer (408)'],
  [480, 'Temporarily Unavailable', 'no_answer', 'unavailable (480)'],
  [487, 'Request Terminated', 'no_answer', 'request terminated (487)'],
  [486, 'Busy Here', 'busy', 'busy (486)'],
  [603, 'Decline', 'busy', 'rejected (603)'],
  [404, 'Not Found', 'failed', 'invalid number (404)'],
  [484, 'Address Incomplete', 'failed', 'invalid number (484)'],
  [402, 'Payment Required', 'failed', 'insufficient funds (402)'],
  [503, 'Service Unavailable', 'failed', 'anything else (503)'],
];

for (const [code, reason, result, label] of FAILURES) {
  test(`call failed before answer, ${label} -> ${result}`, async () => {
    const emu = await started();
    await emu.advance(30000);
    await emu.fail(code, reason);
    assert.equal(emu.call.hangupCalls, 0);
    await assertReportedOnce(emu, report({ result, duration: 0, detail: `${code} ${reason}` }));
  });
}

// ---- reporting -----------------------------------------------------------------------------------

test('callback POST fails with 500, then times out (-7), then succeeds: exactly 3 POSTs, one result', async () => {
  const emu = await answered({ post: [500, { code: -7 }, 200] });
  await emu.amdResult('VOICEMAIL'); // t = 10 s
  const expected = report({ result: 'voicemail', duration: 0, detail: 'amd:VOICEMAIL' });

  assert.equal(emu.posts.length, 1);
  await emu.advance(999);
  assert.equal(emu.posts.length, 1);
  await emu.advance(1);
  assert.equal(emu.posts.length, 2, 'retried 1 s later');
  await emu.advance(2999);
  assert.equal(emu.posts.length, 2);
  await emu.advance(1);
  assert.equal(emu.posts.length, 3, 'retried 3 s after the second try');
  assert.equal(emu.terminateCalls, 1, 'terminated after the successful POST');

  await emu.advance(300000);
  assert.deepEqual(emu.reports, [expected, expected, expected]);
  assert.deepEqual(emu.posts.map((p) => p.at), [10000, 11000, 14000]);
  assertTerminatedOnce(emu);
});

test('callback POST never succeeds: 4 tries (1 s, 3 s, 9 s apart), terminate, one last try from Terminating', async () => {
  const emu = await answered({ post: [500, { reject: 'connection reset' }, { code: -4 }, 502] });
  await emu.amdResult('VOICEMAIL');
  await emu.advance(300000);
  assert.deepEqual(emu.posts.map((p) => [p.at, p.phase]), [
    [10000, 'running'], [11000, 'running'], [14000, 'running'], [23000, 'running'], [23000, 'terminating'],
  ]);
  assert.equal(new Set(emu.posts.map((p) => p.options.postData)).size, 1, 'the same body every time');
  assert.equal(emu.terminateCalls, 1);
  assert.equal(emu.phase, 'terminated');
});

for (const code of [403, 400]) {
  test(`callback POST answered ${code}: final, no retry`, async () => {
    const emu = await answered({ post: [code, 200] });
    await emu.amdResult('VOICEMAIL');
    assert.equal(emu.terminateCalls, 1);
    await assertReportedOnce(emu, report({ result: 'voicemail', duration: 0, detail: 'amd:VOICEMAIL' }));
  });
}

test('the result is reported once even when Disconnected and other events arrive after it was chosen', async () => {
  const emu = await answered();
  await emu.advance(3000);
  await emu.amdResult('VOICEMAIL'); // hangup -> Disconnected from the network -> report
  assert.equal(emu.posts.length, 1);

  await emu.disconnect({ duration: 99 });
  await emu.fail(487, 'Request Terminated');
  await emu.amdResult('HUMAN');
  await emu.amdError('late');
  await emu.advance(10000);

  assert.deepEqual(emu.call.playbacks, []);
  await assertReportedOnce(emu, report({ result: 'voicemail', duration: 3, detail: 'amd:VOICEMAIL' }));
});

test('Disconnected arriving while the report waits for our hangup does not report twice', async () => {
  const emu = await answered({ autoEndOnHangup: false });
  await emu.amdResult('HUMAN');
  await emu.advance(1000);
  await emu.pressKey('1'); // result chosen, hangup sent, waiting for Disconnected
  assert.deepEqual(emu.posts, []);
  await emu.advance(500);
  await emu.disconnect({ duration: 2 });
  await emu.disconnect({ duration: 2 });
  await assertReportedOnce(emu, report({ result: 'human', duration: 2, digits: '1', detail: 'amd:HUMAN' }));
});

test('hangup without a Disconnected event: reports after a grace period with the measured duration', async () => {
  const emu = await answered({ autoEndOnHangup: false });
  await emu.advance(4000);
  await emu.amdResult('VOICEMAIL');
  assert.equal(emu.call.hangupCalls, 1);
  await emu.advance(4999);
  assert.deepEqual(emu.posts, []);
  await emu.advance(1);
  assert.equal(emu.posts.length, 1);
  await emu.disconnect({ duration: 9 }); // too late to matter
  await assertReportedOnce(emu, report({ result: 'voicemail', duration: 9, detail: 'amd:VOICEMAIL' }));
});

test('safety timer: nothing decided after 180 s -> hang up, failed "scenario timeout"', async () => {
  const emu = await started();
  await emu.advance(179999);
  assert.deepEqual(emu.posts, []);
  await emu.advance(1);
  assert.equal(emu.call.hangupCalls, 1);
  await assertReportedOnce(emu, report({ result: 'failed', duration: 0, detail: 'scenario timeout' }));
});

test('safety timer while a connected call never ends: reports at once with the measured duration', async () => {
  const emu = await answered({ autoEndOnHangup: false }, 60000); // answered at 60 s
  await emu.amdResult('HUMAN'); // playback that never finishes
  await emu.advance(120000);
  assert.equal(emu.call.hangupCalls, 1);
  assert.equal(emu.posts.length, 1, 'no grace period after the safety timeout');
  await assertReportedOnce(emu, report({ result: 'failed', duration: 120, detail: 'scenario timeout' }));
});

test('VoxEngine ending the session before a result: one last POST from AppEvents.Terminating', async () => {
  const emu = await started();
  await emu.advance(20000);
  await emu.platformTerminates();
  await emu.advance(60000);
  assert.deepEqual(emu.reports, [report({ result: 'failed', duration: 0, detail: 'session terminated' })]);
  assert.equal(emu.terminateCalls, 0, 'the platform is already terminating the session');
});

// ---- request timeouts and the session's limits ----------------------------------------------------
// VoxEngine ends a session that has no call 60 s after its start or after its call ended, stops timers
// once it is ending, waits for requests already running, and then allows one last request (emulator.js).

test('a settings server slower than the timeout: each try gives up after 6 s and the call is placed in time', async () => {
  const slow = { code: 200, json: SETTINGS, delayMs: 120000 };
  const emu = await started({ customData: { ...CUSTOM, caller_id: '74951112233' }, get: [slow] });
  await emu.advance(40000);
  assert.deepEqual(emu.gets.map((g) => [g.at, g.settledAt, g.result.code]), [
    [0, 6000, -7], [7000, 13000, -7], [15000, 21000, -7], [25000, 31000, -7],
  ]);
  assert.equal(emu.dials.length, 1, 'dialled with the custom data, long before the 60 s no-call limit');
  assert.equal(emu.dials[0].callerid, '74951112233');
  await emu.fail(486, 'Busy Here');
  await assertReportedOnce(emu, report({ result: 'busy', detail: '486 Busy Here' }));
});

test('a settings server that never accepts the connection: each try gives up after the 4 s connect timeout', async () => {
  const emu = await started({ customData: CUSTOM_WITHOUT_PHONE, get: [{ code: 200, json: SETTINGS, connectMs: 600000 }] });
  await emu.advance(30000);
  assert.deepEqual(emu.gets.map((g) => [g.at, g.settledAt]), [[0, 4000], [5000, 9000], [11000, 15000], [19000, 23000]]);
  assert.equal(emu.dials.length, 0);
  assert.deepEqual(emu.reports, [report({ result: 'failed', detail: 'settings unavailable' })]);
  assert.equal(emu.posts[0].at, 23000);
});

test('settings that never come and a slow callback: the no-call limit ends the session mid-retry, Terminating reports', async () => {
  const emu = await started({
    customData: CUSTOM_WITHOUT_PHONE,
    get: [{ code: 200, json: SETTINGS, delayMs: 120000 }],
    post: [(request) => (request.phase === 'terminating' ? 200 : { code: 200, delayMs: 120000 })],
  });
  await emu.advance(300000);
  assert.equal(emu.dials.length, 0);
  const expected = report({ result: 'failed', detail: 'settings unavailable' });
  // tries at 31 s and 40 s time out after 8 s; the retry due at 51 s is a timer, and the session ends at 60 s
  assert.deepEqual(emu.posts.map((p) => [p.at, p.phase, p.result && p.result.code]), [
    [31000, 'running', -7], [40000, 'running', -7], [51000, 'running', -7], [60000, 'terminating', 200],
  ]);
  assert.deepEqual(emu.reports, [expected, expected, expected, expected]);
  assert.equal(emu.endReason, 'no calls for 60 s');
  assert.equal(emu.phase, 'terminated');
});

test('a callback slower than the timeout: every try ends within 60 s of the call, then one last from Terminating', async () => {
  const emu = await started({ post: [{ code: 200, delayMs: 30000 }] });
  await emu.advance(10000);
  await emu.fail(486, 'Busy Here'); // t = 10 s: the session now has 60 s without a call
  await emu.advance(300000);
  assert.deepEqual(emu.posts.map((p) => [p.at, p.settledAt, p.phase]), [
    [10000, 18000, 'running'], [19000, 27000, 'running'], [30000, 38000, 'running'], [47000, 55000, 'running'],
    [55000, 63000, 'terminating'],
  ]);
  assert.ok(emu.posts.every((p) => p.options.timeout === 8 && p.options.connectionTimeout === 4));
  assert.equal(emu.endReason, 'VoxEngine.terminate()', 'the scenario gave up before VoxEngine cut it off');
  assert.equal(emu.phase, 'terminated');
  assert.equal(new Set(emu.reports.map((r) => JSON.stringify(r))).size, 1);
});

test('callback 5xx and VoxEngine ends the session before the retry timer fires: the last report goes from Terminating', async () => {
  const emu = await started({ post: [503, 503, 200] });
  await emu.advance(10000);
  await emu.fail(480, 'Temporarily Unavailable');
  await emu.advance(1500); // tries at 10 s and 11 s failed; the next is due at 14 s
  assert.equal(emu.posts.length, 2);
  await emu.platformTerminates();
  await emu.advance(60000);
  const expected = report({ result: 'no_answer', detail: '480 Temporarily Unavailable' });
  assert.deepEqual(emu.reports, [expected, expected, expected]);
  assert.deepEqual(emu.posts.map((p) => p.phase), ['running', 'running', 'terminating']);
  assert.equal(emu.phase, 'terminated');
});

test('a report still running when VoxEngine ends the session is waited for; once it succeeded nothing more is sent', async () => {
  const emu = await started({ post: [{ code: 200, delayMs: 7000 }] });
  await emu.advance(10000);
  await emu.fail(486, 'Busy Here');
  await emu.advance(2000);
  await emu.platformTerminates(); // the POST sent at 10 s is still running
  await emu.advance(60000);
  assert.deepEqual(emu.posts.map((p) => [p.at, p.settledAt]), [[10000, 17000]]);
  assert.deepEqual(emu.reports, [report({ result: 'busy', detail: '486 Busy Here' })]);
  assert.equal(emu.phase, 'terminated');
});

test('the safety timer does not outlive the session: a call that never ends is still reported', async () => {
  const emu = await answered({ autoEndOnHangup: false, post: [{ code: 200, delayMs: 600000 }] }, 60000);
  await emu.amdResult('HUMAN');
  await emu.advance(120000); // t = 180 s: safety timeout, hangup never completes
  await emu.advance(300000);
  assert.deepEqual(emu.posts.map((p) => [p.at, p.phase]), [
    [180000, 'running'], [189000, 'running'], [200000, 'running'], [217000, 'running'], [225000, 'terminating'],
  ]);
  assert.equal(emu.reports[0].detail, 'scenario timeout');
});

// ---- the scenario's version ------------------------------------------------------------------------

test('reports its own scenario_version; the expected one from the settings matches: no mismatch', async () => {
  const emu = await started({ settings: { ...SETTINGS, scenario_version: SCENARIO_VERSION } });
  await emu.fail(486, 'Busy Here');
  await assertReportedOnce(emu, report({ result: 'busy', detail: '486 Busy Here' }));
});

test('the server expects another version: the call is still placed and the result says version_mismatch', async () => {
  const emu = await started({ settings: { ...SETTINGS, scenario_version: SCENARIO_VERSION + 1 } });
  assert.equal(emu.dials.length, 1);
  await emu.fail(486, 'Busy Here');
  await assertReportedOnce(emu, report({ result: 'busy', detail: '486 Busy Here', version_mismatch: true }));
  assert.ok(emu.logs.some((line) => line.includes(`server expects scenario version ${SCENARIO_VERSION + 1}`)));
});
