'use strict';
// The seller branches of leadcaller.js (offer and seller_first), run against the emulator in ./emulator.js.
// Run: node --test telephony/voxengine/test/*.test.js
const test = require('node:test');
const assert = require('node:assert/strict');

const { VoxEmulator } = require('./emulator');

const CALLBACK_URL = 'https://leads.example.test/api/v1/telephony/voximplant/callback/';
const SELLERS_URL = 'https://leads.example.test/api/v1/telephony/voximplant/sellers/';
const LEAD = '+79120000001';
const ANNA = { id: 7, name: 'Anna', phone: '+79160000007', whisper_text: 'A lead from Shop, name: Ivan. Press 1.' };
const BORIS = { id: 8, name: 'Boris', phone: '+79160000008', whisper_text: 'A lead from Shop, name: Ivan. Press 1.' };

const SETTINGS = {
  phone: LEAD, caller_id: '74950000000', recording_url: '', tts_text: 'Thank you for your request.', tts_voice: '',
  amd_model: 'ru', amd_timeout_ms: 6500, callback_digit: '1', key_wait_seconds: 5, disclosure_url: '',
  disclosure_text: 'Automated call from Shop; press 9 to stop calls.', opt_out_digit: '9', opt_out_text: 'Goodbye.',
  call_mode: 'offer', seller_first_fallback: 'offer', ring_strategy: 'sequential', seller_ring_seconds: 20,
  seller_wait_seconds: 60, connect_digit: '1', record_calls: false, sellers_url: SELLERS_URL,
  offer_text: 'Press 1 to talk to a manager now.', hold_text: 'Connecting you, please hold.',
  promise_text: 'A manager will call you back within 15 minutes.',
};

/**
 * A session whose sellers endpoint answers from `batches` (one list per request; then empty lists), and whose
 * report POSTs answer 200.
 */
function session(settings = {}, batches = [[ANNA], [BORIS]]) {
  const queue = [...batches];
  const post = (request) => (request.url === SELLERS_URL
    ? { code: 200, json: { sellers: queue.length ? queue.shift() : [] } }
    : { code: 200, json: { status: 'applied' } });
  return new VoxEmulator({
    customData: { attempt_id: 42, token: 't', callback_url: CALLBACK_URL },
    settings: { ...SETTINGS, ...settings }, sessionId: 5, post: [post],
  });
}

const sellerAsks = (emu) => emu.posts.filter((r) => r.url === SELLERS_URL).map((r) => r.body);
const results = (emu) => emu.posts.filter((r) => r.url === CALLBACK_URL && !r.dropped).map((r) => r.body);

/** The lead answers, is a person, hears the disclosure, the message and the offer. */
async function leadHearsTheOffer(emu) {
  await emu.start();
  await emu.connect();
  await emu.amdResult('HUMAN');
  await emu.finishPlayback(); // disclosure
  await emu.finishPlayback(); // message
  assert.equal(emu.call.says[2].text, SETTINGS.offer_text);
}

async function leadPressesOne(emu) {
  await leadHearsTheOffer(emu);
  await emu.pressKey('1');
  assert.equal(emu.call.says[3].text, SETTINGS.hold_text);
  await emu.advance(0);
}

test('offer, 1 pressed: the seller is rung, hears the lead, presses 1 and the two are joined', async () => {
  const emu = session({ record_calls: true });
  await leadPressesOne(emu);
  assert.deepEqual(sellerAsks(emu), [{ attempt_id: 42, token: 't', missed: [] }]);
  const anna = emu.callTo(ANNA.phone);
  assert.equal(anna.dialedCallerId, SETTINGS.caller_id);
  await emu.advance(4000);
  await emu.connect(anna);
  assert.equal(anna.says[0].text, ANNA.whisper_text);
  assert.deepEqual(emu.media, [], 'not joined before the seller presses the key');
  await emu.pressKey('1', anna);
  assert.deepEqual(emu.media, [[emu.call, anna]]);
  assert.deepEqual(emu.call.records, [{ stereo: true }]);
  await emu.advance(90000);
  await emu.disconnect({}, emu.call); // the lead ends the conversation
  await emu.advance(1000);
  assert.equal(anna.hangupCalls, 1);
  const [body] = results(emu);
  assert.equal(body.result, 'connected');
  assert.equal(body.seller_id, 7);
  assert.equal(body.talk_time, 90);
  assert.equal(body.recording_url, 'https://records.example.test/5/call-1.mp3');
  assert.equal(results(emu).length, 1);
  assert.equal(emu.terminateCalls, 1);
});

test('offer, no key: the lead hears the offer, the wait ends, the result is human and no seller is rung', async () => {
  const emu = session();
  await leadHearsTheOffer(emu);
  await emu.finishPlayback(); // the offer
  await emu.advance(6000);
  assert.deepEqual(sellerAsks(emu), []);
  assert.equal(emu.calls.length, 1);
  assert.equal(results(emu)[0].result, 'human');
  assert.equal(results(emu)[0].seller_id, undefined, 'no seller fields unless a seller talked');
});

test('offer, seller busy: the next seller is asked for, naming the one who missed it', async () => {
  const emu = session();
  await leadPressesOne(emu);
  await emu.fail(486, 'Busy Here', emu.callTo(ANNA.phone));
  await emu.advance(0);
  assert.deepEqual(sellerAsks(emu)[1].missed, [7]);
  const boris = emu.callTo(BORIS.phone);
  await emu.connect(boris);
  await emu.pressKey('1', boris);
  assert.deepEqual(emu.media, [[emu.call, boris]]);
  await emu.advance(30000);
  await emu.disconnect({}, emu.call);
  await emu.advance(1000);
  assert.deepEqual([results(emu)[0].result, results(emu)[0].seller_id], ['connected', 8]);
});

test('offer, no seller answers: each rings for its timeout, then the lead hears the promise: seller_missed', async () => {
  const emu = session({ seller_ring_seconds: 20, seller_wait_seconds: 60 });
  await leadPressesOne(emu);
  const anna = emu.callTo(ANNA.phone);
  await emu.advance(20000);
  assert.equal(anna.hangupCalls, 1, 'rung for seller_ring_seconds, then given up');
  const boris = emu.callTo(BORIS.phone);
  await emu.advance(20000);
  assert.equal(boris.hangupCalls, 1);
  await emu.advance(20000); // nobody else is free; asked again every few seconds until the wait is over
  assert.ok(sellerAsks(emu).length >= 3);
  assert.equal(emu.call.says[emu.call.says.length - 1].text, SETTINGS.promise_text);
  assert.deepEqual(results(emu), []);
  await emu.finishPlayback();
  await emu.advance(1000);
  assert.deepEqual([results(emu)[0].result, results(emu)[0].detail], ['seller_missed', 'no seller took the call']);
  assert.deepEqual(emu.media, []);
});

test('offer, simultaneous: the first seller to press 1 takes it and the others are hung up', async () => {
  const emu = session({ ring_strategy: 'simultaneous' }, [[ANNA, BORIS]]);
  await leadPressesOne(emu);
  const anna = emu.callTo(ANNA.phone);
  const boris = emu.callTo(BORIS.phone);
  await emu.connect(anna);
  await emu.connect(boris);
  await emu.pressKey('1', boris);
  assert.equal(anna.hangupCalls, 1);
  assert.deepEqual(emu.media, [[emu.call, boris]]);
});

test('the lead hangs up during the whisper: the seller is hung up, seller_missed', async () => {
  const emu = session();
  await leadPressesOne(emu);
  const anna = emu.callTo(ANNA.phone);
  await emu.connect(anna);
  await emu.disconnect({}, emu.call);
  await emu.advance(1000);
  assert.equal(anna.hangupCalls, 1);
  assert.deepEqual([results(emu)[0].result, results(emu)[0].detail],
    ['seller_missed', 'the lead hung up waiting for a seller']);
  assert.deepEqual(emu.media, []);
});

test('the seller hangs up first: the lead is hung up, connected with the talk time', async () => {
  const emu = session();
  await leadPressesOne(emu);
  const anna = emu.callTo(ANNA.phone);
  await emu.connect(anna);
  await emu.pressKey('1', anna);
  await emu.advance(42000);
  await emu.disconnect({}, anna);
  await emu.advance(1000);
  assert.equal(emu.call.hangupCalls, 1);
  const [body] = results(emu);
  assert.deepEqual([body.result, body.seller_id, body.talk_time, body.detail], ['connected', 7, 42, 'the seller hung up']);
  assert.equal(body.recording_url, undefined, 'the site does not record calls');
});

test('a seller who answers but never presses the key is given up after the whisper time', async () => {
  const emu = session();
  await leadPressesOne(emu);
  const anna = emu.callTo(ANNA.phone);
  await emu.connect(anna);
  await emu.advance(20000);
  assert.equal(anna.hangupCalls, 1);
  await emu.advance(0);
  assert.deepEqual(sellerAsks(emu)[1].missed, [7]);
});

test('seller first: the seller hears the lead and presses 1, then the lead is dialled, told the disclosure, joined',
  async () => {
    const emu = session({ call_mode: 'seller_first' });
    await emu.start();
    assert.equal(emu.calls.length, 1);
    const anna = emu.call;
    assert.equal(anna.dialedNumber, ANNA.phone);
    assert.equal(anna.parameters, undefined, 'no answering machine detection on a seller');
    await emu.connect(anna);
    await emu.pressKey('1', anna);
    const lead = emu.callTo(LEAD);
    assert.ok(lead.parameters.amd, 'the lead is dialled with AMD');
    await emu.connect(lead);
    await emu.amdResult('HUMAN');
    assert.equal(lead.says[0].text, SETTINGS.disclosure_text);
    assert.deepEqual(emu.media, [], 'the disclosure plays before anyone is joined');
    await emu.finishPlayback({}, lead);
    assert.deepEqual(emu.media, [[lead, anna]]);
    await emu.advance(10000);
    await emu.disconnect({}, lead);
    await emu.advance(1000);
    assert.deepEqual([results(emu)[0].result, results(emu)[0].seller_id], ['connected', 7]);
  });

test('seller first, no seller free: the lead is called in the fallback mode (offer)', async () => {
  const emu = session({ call_mode: 'seller_first' }, []);
  await emu.start();
  await emu.advance(0);
  assert.equal(emu.call.dialedNumber, LEAD);
  await emu.connect();
  await emu.amdResult('HUMAN');
  await emu.finishPlayback();
  await emu.finishPlayback();
  assert.equal(emu.call.says[2].text, SETTINGS.offer_text);
});

test('seller first, fallback recording: no offer is made and the seller endpoint is asked once', async () => {
  const emu = session({ call_mode: 'seller_first', seller_first_fallback: 'recording' }, []);
  await emu.start();
  await emu.advance(0);
  await emu.connect();
  await emu.amdResult('HUMAN');
  await emu.finishPlayback();
  await emu.finishPlayback();
  await emu.advance(6000);
  assert.equal(emu.call.says.length, 2);
  assert.equal(sellerAsks(emu).length, 1);
  assert.equal(results(emu)[0].result, 'human');
});

test('seller first, the lead does not answer: the seller is hung up and the lead result is reported', async () => {
  const emu = session({ call_mode: 'seller_first' });
  await emu.start();
  const anna = emu.call;
  await emu.connect(anna);
  await emu.pressKey('1', anna);
  await emu.fail(480, 'Temporarily Unavailable', emu.callTo(LEAD));
  await emu.advance(1000);
  assert.equal(anna.hangupCalls, 1);
  assert.equal(results(emu)[0].result, 'no_answer');
});

test('the opt-out key still works while waiting for a seller', async () => {
  const emu = session();
  await leadPressesOne(emu);
  await emu.pressKey('9');
  assert.equal(emu.callTo(ANNA.phone).hangupCalls, 1);
  await emu.finishPlayback();
  await emu.advance(1000);
  assert.equal(results(emu)[0].result, 'opted_out');
});
