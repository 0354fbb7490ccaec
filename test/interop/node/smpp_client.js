#!/usr/bin/env node
// Interoperability client for the SMPP HLR Gateway, built on node-smpp
// (npm smpp@0.5.1, pinned in package-lock.json). It runs one scenario against a
// gateway and prints one JSON object per line on stdout, for example
//   {"step":"bind_transceiver","status":0,"sequence_number":1,...}
// It exits non-zero when the peer breaks the protocol as seen from here: no
// response before the deadline, the connection lost while waiting, or a
// response that does not match its request. Whether a status is the RIGHT one
// is left to the caller (the Go harness in test/interop).
//
// Usage:
//   node smpp_client.js --scenario NAME [--host H] [--port P] [--tls-port P]
//        [--system-id ID] [--password PW] [--timeout SECONDS]
//        [--receipt-wait SECONDS] [--destination MSISDN] [--count N]
//        [--interface-version V]
// Every option falls back to an environment variable: SMPP_HOST, SMPP_PORT,
// SMPP_TLS_PORT, SMPP_SYSTEM_ID, SMPP_PASSWORD, SCENARIO, CLIENT_TIMEOUT,
// RECEIPT_WAIT, DESTINATION, COUNT, INTERFACE_VERSION. --interface-version
// (e.g. 0x33) is the bind's interface_version; node-smpp decodes optional
// parameters whatever the version, so any the gateway sends shows up in the
// output ("tlv_tags").
//
// Scenarios: bind_transmitter bind_receiver bind_transceiver wrong_password
// unknown_system_id second_bind submit_before_bind submit_on_receiver
// unknown_command enquire_link unbind tls_bind submit_valid submit_invalid
// receipt_via_receiver burst
'use strict';

const path = require('path');
const smpp = require(path.join(__dirname, 'node_modules', 'smpp'));

// Receipt texts are plain ASCII; decode data_coding 0 as Latin-1 rather than
// the library's default GSM 03.38 table so the text arrives byte for byte.
smpp.encodings.default = 'LATIN1';

function parseArgs(argv) {
  const opt = {
    host: process.env.SMPP_HOST || '127.0.0.1',
    port: Number(process.env.SMPP_PORT || 2776),
    tlsPort: Number(process.env.SMPP_TLS_PORT || 0),
    systemId: process.env.SMPP_SYSTEM_ID || 'testuser',
    password: process.env.SMPP_PASSWORD || 'testpass',
    scenario: process.env.SCENARIO || '',
    timeout: Number(process.env.CLIENT_TIMEOUT || 10),
    receiptWait: Number(process.env.RECEIPT_WAIT || 10),
    destination: process.env.DESTINATION || '',
    count: Number(process.env.COUNT || 20),
    interfaceVersion: Number(process.env.INTERFACE_VERSION || 0x34),
  };
  const names = {
    '--host': ['host', String],
    '--port': ['port', Number],
    '--tls-port': ['tlsPort', Number],
    '--system-id': ['systemId', String],
    '--password': ['password', String],
    '--scenario': ['scenario', String],
    '--timeout': ['timeout', Number],
    '--receipt-wait': ['receiptWait', Number],
    '--destination': ['destination', String],
    '--count': ['count', Number],
    '--interface-version': ['interfaceVersion', Number],
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const spec = names[arg];
    if (!spec) {
      fail(`unknown option ${arg}`);
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) fail(`option ${arg} needs a value`);
      value = argv[++i];
    }
    opt[spec[0]] = spec[1](value);
  }
  return opt;
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const sessions = new Set();

function fail(msg, extra) {
  emit(Object.assign({ step: 'error', error: String(msg) }, extra || {}));
  for (const s of sessions) {
    try { s.destroy(); } catch (e) { /* already gone */ }
  }
  process.exitCode = 1;
  // Let stdout drain, then leave even if sockets linger.
  setImmediate(() => process.exit(1));
  throw new Abort();
}

class Abort extends Error {}

// The tags of the optional parameters a decoded PDU carried: node-smpp
// stores known ones under their names, unknown ones under their numeric tag.
function tlvTags(pdu) {
  const tags = [];
  for (const k of Object.keys(pdu)) {
    if (/^\d+$/.test(k)) tags.push(Number(k));
    else if (Object.prototype.hasOwnProperty.call(smpp.tlvs, k)) tags.push(smpp.tlvs[k].id);
  }
  return tags.sort((a, b) => a - b);
}

const opt = parseArgs(process.argv.slice(2));

// Numbers of the gateway's HLR simulator (reverse filtering, see the README).
const VALID_NUMBER = '13476841841'; // live subscriber -> 0x0B, no receipt
const INVALID_NUMBER = '40722570240999'; // invalid -> accepted + DELIVRD receipt

// An id no SMPP version defines: the gateway must answer generic_nack 0x03.
const UNKNOWN_COMMAND_ID = 0x00000077;
smpp.addCommand('interop_unknown', { id: UNKNOWN_COMMAND_ID, params: {} });

// Whole-run deadline, a backstop behind the per-request timeouts.
const overall = setTimeout(() => {
  try { fail('scenario did not finish in time'); } catch (e) { /* exiting */ }
}, (opt.timeout * 3 + opt.receiptWait + 5) * 1000);
overall.unref();

function connect(useTLS) {
  return new Promise((resolve, reject) => {
    let session;
    const onError = (err) => reject(new Error(`connect failed: ${err.message}`));
    if (useTLS) {
      session = smpp.connect({
        url: `ssmpp://${opt.host}:${opt.tlsPort}`,
        rejectUnauthorized: false, // the harness's self-signed test certificate
      });
      session.once('secureConnect', () => {
        session.removeListener('error', onError);
        const c = session.socket.getCipher ? session.socket.getCipher() : null;
        emit({ step: 'connect', ok: true, tls: true,
               tls_protocol: session.socket.getProtocol ? session.socket.getProtocol() : null,
               cipher: c ? c.name : null });
        resolve(session);
      });
    } else {
      session = smpp.connect({ url: `smpp://${opt.host}:${opt.port}` });
      session.once('connect', () => {
        session.removeListener('error', onError);
        emit({ step: 'connect', ok: true });
        resolve(session);
      });
    }
    sessions.add(session);
    session.once('error', onError);
    session.closed = false;
    session.receipts = [];
    session.receiptWaiters = [];
    session.on('close', () => { session.closed = true; });
    session.on('error', (err) => { session.lastError = err; });
    // Requests from the gateway: answer them.
    session.on('enquire_link', (pdu) => session.send(pdu.response()));
    session.on('unbind', (pdu) => {
      emit({ step: 'unbind_from_server', sequence_number: pdu.sequence_number });
      session.send(pdu.response());
    });
    session.on('deliver_sm', (pdu) => {
      const sm = pdu.short_message;
      const text = sm && typeof sm === 'object' && 'message' in sm
        ? (Buffer.isBuffer(sm.message) ? sm.message.toString('latin1') : String(sm.message))
        : (Buffer.isBuffer(sm) ? sm.toString('latin1') : String(sm));
      const r = {
        step: 'deliver_sm',
        sequence_number: pdu.sequence_number,
        esm_class: pdu.esm_class,
        source_addr: pdu.source_addr,
        destination_addr: pdu.destination_addr,
        short_message: text,
        receipted_message_id: pdu.receipted_message_id,
        message_state: pdu.message_state,
        data_coding: pdu.data_coding,
        tlv_tags: tlvTags(pdu),
      };
      session.receipts.push(r);
      emit(r);
      session.send(pdu.response());
      for (const w of session.receiptWaiters.splice(0)) w();
    });
    session.on('unknown', (pdu) => {
      emit({ step: 'unknown_pdu', command_id: pdu.command_id, sequence_number: pdu.sequence_number });
    });
  });
}

// Sends a request PDU and waits for its response (matched by sequence number,
// which node-smpp does for us). Emits the response under the name `step`.
function request(session, step, command, params, extra) {
  return new Promise((resolve, reject) => {
    const pdu = new smpp.PDU(command, params || {});
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      reject(new Error(`no response to ${step} (seq ${pdu.sequence_number}) within ${opt.timeout}s`));
    }, opt.timeout * 1000);
    const onClose = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`connection closed while waiting for the response to ${step} (seq ${pdu.sequence_number})`));
    };
    session.once('close', onClose);
    const ok = session.send(pdu, (resp) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.removeListener('close', onClose);
      const want = (pdu.command_id | 0x80000000) >>> 0;
      if (resp.command_id !== want && resp.command_id !== 0x80000000) {
        reject(new Error(`response to ${step} has command_id 0x${resp.command_id.toString(16)}, want 0x${want.toString(16)} or generic_nack`));
        return;
      }
      const out = Object.assign({
        step,
        command: resp.command,
        command_id: resp.command_id,
        status: resp.command_status,
        sequence_number: resp.sequence_number,
        request_sequence_number: pdu.sequence_number,
        body_length: resp.command_length - 16,
        tlv_tags: tlvTags(resp),
      }, extra || {});
      if (resp.system_id) out.system_id = resp.system_id;
      if (resp.message_id) out.message_id = resp.message_id;
      emit(out);
      resolve(resp);
    });
    if (!ok) {
      done = true;
      clearTimeout(timer);
      reject(new Error(`cannot send ${step}: socket not writable`));
    }
  });
}

function bind(session, mode, cred) {
  cred = cred || {};
  return request(session, cred.step || mode, mode, {
    system_id: cred.systemId !== undefined ? cred.systemId : opt.systemId,
    password: cred.password !== undefined ? cred.password : opt.password,
    system_type: 'interop',
    interface_version: opt.interfaceVersion,
  });
}

async function mustBind(session, mode) {
  const resp = await bind(session, mode);
  if (resp.command_status !== 0) {
    fail(`${mode} refused with status ${resp.command_status}`, { step_of: mode });
  }
  return resp;
}

function submit(session, step, dest) {
  return request(session, step, 'submit_sm', {
    source_addr_ton: 1,
    source_addr_npi: 1,
    source_addr: '447700900123',
    dest_addr_ton: 1,
    dest_addr_npi: 1,
    destination_addr: dest,
    registered_delivery: 1,
    data_coding: 0,
    short_message: 'interop test from node-smpp',
  }, { destination: dest });
}

function unbind(session) {
  return request(session, 'unbind', 'unbind', {});
}

function waitReceipts(session, seconds, count) {
  return new Promise((resolve) => {
    const deadline = Date.now() + seconds * 1000;
    const check = () => {
      if (session.receipts.length >= count || Date.now() >= deadline || session.closed) {
        resolve(session.receipts.length);
        return;
      }
      const t = setTimeout(check, Math.max(0, Math.min(100, deadline - Date.now())));
      session.receiptWaiters.push(() => { clearTimeout(t); check(); });
    };
    check();
  });
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function close(session) {
  return new Promise((resolve) => {
    if (session.closed) { resolve(); return; }
    const t = setTimeout(() => { session.destroy(); resolve(); }, 2000);
    session.close(() => { clearTimeout(t); resolve(); });
  });
}

async function bindEnquireUnbind(mode, useTLS) {
  const s = await connect(useTLS);
  await mustBind(s, mode);
  await request(s, 'enquire_link', 'enquire_link', {});
  await unbind(s);
  await close(s);
}

const scenarios = {
  // Sends --count submit_sm back to back without waiting (a window's worth and
  // more), then collects every response: for the window and throughput limits.
  burst: async () => {
    const s = await connect(false);
    await mustBind(s, 'bind_transceiver');
    const dest = opt.destination || VALID_NUMBER;
    const all = [];
    for (let i = 0; i < opt.count; i++) all.push(submit(s, 'burst_submit', dest));
    const resps = await Promise.all(all);
    const statuses = {};
    for (const r of resps) statuses[r.command_status] = (statuses[r.command_status] || 0) + 1;
    emit({ step: 'burst', count: opt.count, statuses });
    await waitReceipts(s, 1, Infinity); // answer any receipts before leaving
    await unbind(s);
    await close(s);
  },
  bind_transmitter: () => bindEnquireUnbind('bind_transmitter', false),
  bind_receiver: () => bindEnquireUnbind('bind_receiver', false),
  bind_transceiver: () => bindEnquireUnbind('bind_transceiver', false),
  tls_bind: async () => {
    if (!opt.tlsPort) fail('tls_bind needs --tls-port or SMPP_TLS_PORT');
    const s = await connect(true);
    await mustBind(s, 'bind_transceiver');
    await request(s, 'enquire_link', 'enquire_link', {});
    const dest = opt.destination;
    if (dest) {
      await submit(s, 'submit_sm', dest);
    }
    await unbind(s);
    await close(s);
  },
  wrong_password: async () => {
    const s = await connect(false);
    await bind(s, 'bind_transceiver', { password: 'wrongpw' });
    await close(s);
  },
  unknown_system_id: async () => {
    const s = await connect(false);
    await bind(s, 'bind_transceiver', { systemId: 'nosuchuser' });
    await close(s);
  },
  second_bind: async () => {
    const s = await connect(false);
    await mustBind(s, 'bind_transceiver');
    await bind(s, 'bind_transmitter', { step: 'second_bind' });
    await close(s);
  },
  submit_before_bind: async () => {
    const s = await connect(false);
    // node-smpp keeps no bind state, so session.send of a submit_sm goes out as is.
    await submit(s, 'submit_before_bind', opt.destination || INVALID_NUMBER);
    await close(s);
  },
  submit_on_receiver: async () => {
    const s = await connect(false);
    await mustBind(s, 'bind_receiver');
    await submit(s, 'submit_on_receiver', opt.destination || INVALID_NUMBER);
    await unbind(s);
    await close(s);
  },
  unknown_command: async () => {
    const s = await connect(false);
    await mustBind(s, 'bind_transceiver');
    await request(s, 'unknown_command', 'interop_unknown', {},
      { request_command_id: UNKNOWN_COMMAND_ID });
    // The session must still be usable afterwards.
    await request(s, 'enquire_link', 'enquire_link', {});
    await close(s);
  },
  enquire_link: async () => {
    const s = await connect(false);
    await mustBind(s, 'bind_transceiver');
    for (let i = 0; i < 3; i++) {
      await request(s, 'enquire_link', 'enquire_link', {});
    }
    await close(s);
  },
  unbind: async () => {
    const s = await connect(false);
    await mustBind(s, 'bind_transceiver');
    await unbind(s);
    // After unbind_resp the gateway should close the connection.
    const deadline = Date.now() + opt.timeout * 1000;
    while (!s.closed && Date.now() < deadline) await sleep(50);
    emit({ step: 'after_unbind', closed: s.closed });
    await close(s);
  },
  submit_valid: async () => {
    const s = await connect(false);
    await mustBind(s, 'bind_transceiver');
    await submit(s, 'submit_sm', opt.destination || VALID_NUMBER);
    const n = await waitReceipts(s, opt.receiptWait, 1);
    emit({ step: 'receipts', count: n });
    await unbind(s);
    await close(s);
  },
  submit_invalid: async () => {
    const s = await connect(false);
    await mustBind(s, 'bind_transceiver');
    const resp = await submit(s, 'submit_sm', opt.destination || INVALID_NUMBER);
    let n = 0;
    if (resp.command_status === 0) n = await waitReceipts(s, opt.receiptWait, 1);
    emit({ step: 'receipts', count: n });
    if (resp.command_status === 0 && n === 0) fail(`no receipt arrived within ${opt.receiptWait}s`);
    await unbind(s);
    await close(s);
  },
  receipt_via_receiver: async () => {
    const rx = await connect(false);
    await mustBind(rx, 'bind_receiver');
    const tx = await connect(false);
    await mustBind(tx, 'bind_transmitter');
    const resp = await submit(tx, 'submit_sm', opt.destination || INVALID_NUMBER);
    let n = 0;
    if (resp.command_status === 0) n = await waitReceipts(rx, opt.receiptWait, 1);
    emit({ step: 'receipts', count: n });
    if (resp.command_status === 0 && n === 0) fail(`no receipt arrived on the receiver within ${opt.receiptWait}s`);
    await unbind(tx);
    await unbind(rx);
    await close(tx);
    await close(rx);
  },
};

async function main() {
  const run = scenarios[opt.scenario];
  if (!run) {
    fail(`unknown scenario '${opt.scenario}'; known: ${Object.keys(scenarios).sort().join(' ')}`);
  }
  await run();
  emit({ step: 'done', ok: true });
  for (const s of sessions) {
    try { s.destroy(); } catch (e) { /* already gone */ }
  }
  clearTimeout(overall);
}

main().catch((err) => {
  if (err instanceof Abort) return;
  try { fail(err && err.message ? err.message : err); } catch (e) { /* exiting */ }
});
