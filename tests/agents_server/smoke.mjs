#!/usr/bin/env node
// Smoke test for the local Agents SDK playground server (src/index.ts).
//
//   node --experimental-websocket smoke.mjs [--port 8787] [--text "Hello"] [--model @cf/...]
//                                           [--system "..."] [--all] [--full]
//
// Node 20 needs --experimental-websocket for the global WebSocket (Node >= 22 has it built in).
//   --all            every scripted trigger in its own room, then cancel and resume
//   --cancel-resume  only the cancel and stream-resume flows
// Prints every frame received, prefixed with milliseconds since the step started.
// Exits non-zero if a chat request does not end with a done:true frame in time.

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const flag = (name) => args.includes(`--${name}`);

const PORT = Number(opt("port", process.env.PORT ?? "8787"));
const FULL = flag("full");
const BASE = `ws://127.0.0.1:${PORT}/agents/playground`;

if (typeof WebSocket === "undefined") {
  console.error("No global WebSocket: run with `node --experimental-websocket smoke.mjs` on Node 20.");
  process.exit(2);
}

const short = (s) => (FULL || s.length <= 400 ? s : `${s.slice(0, 400)}… (${s.length} chars)`);

class Client {
  constructor(room) {
    this.url = `${BASE}/${room}?_pk=${crypto.randomUUID()}`;
    this.frames = [];
    this.waiters = [];
    this.t0 = Date.now();
  }
  open() {
    return new Promise((resolve, reject) => {
      this.ws = new WebSocket(this.url);
      this.ws.onopen = () => resolve();
      this.ws.onerror = (e) => reject(new Error(`websocket error ${e.message ?? ""}`));
      this.ws.onclose = (e) => console.log(`  [closed code=${e.code} reason=${e.reason}]`);
      this.ws.onmessage = (e) => {
        const text = typeof e.data === "string" ? e.data : String(e.data);
        let msg;
        try {
          msg = JSON.parse(text);
        } catch {
          msg = { raw: text };
        }
        if (!this.quiet) console.log(`  ${String(Date.now() - this.t0).padStart(5)}ms <- ${short(text)}`);
        this.frames.push(msg);
        for (const w of [...this.waiters]) if (w.pred(msg)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(msg);
        }
      };
    });
  }
  send(obj) {
    const text = JSON.stringify(obj);
    console.log(`  ${String(Date.now() - this.t0).padStart(5)}ms -> ${short(text)}`);
    this.ws.send(text);
  }
  waitFor(pred, timeoutMs = 15000, what = "frame") {
    const hit = this.frames.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          reject(new Error(`timeout waiting for ${what}`));
        }
      }, timeoutMs);
    });
  }
  sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
  }
  close() {
    // Always send a status code: a close frame without one is never answered by
    // workerd (the client then waits ~10 s and reports 1006).
    this.ws.close(1000, "bye");
  }
}

function chatRequest(id, messages) {
  return {
    type: "cf_agent_use_chat_request",
    id,
    init: {
      method: "POST",
      body: JSON.stringify({ messages, trigger: "submit-message" })
    }
  };
}

const msg = (role, text) => ({
  id: crypto.randomUUID(),
  role,
  parts: [{ type: "text", text }]
});

async function chat(c, text, { system, history = [], timeoutMs = 30000 } = {}) {
  const id = `req-${crypto.randomUUID().slice(0, 8)}`;
  const messages = [...(system ? [msg("system", system)] : []), ...history, msg("user", text)];
  c.t0 = Date.now();
  c.send(chatRequest(id, messages));
  const done = await c.waitFor(
    (m) => m.type === "cf_agent_use_chat_response" && m.id === id && m.done === true,
    timeoutMs,
    `done:true for ${id}`
  );
  // Reassemble what a client would show.
  let out = "";
  let reasoning = "";
  let error = null;
  for (const f of c.frames.filter((m) => m.type === "cf_agent_use_chat_response" && m.id === id)) {
    if (f.error) error = f.body;
    if (!f.body) continue;
    let chunk;
    try {
      chunk = JSON.parse(f.body);
    } catch {
      continue;
    }
    if (chunk.type === "text-delta") out += chunk.delta;
    if (chunk.type === "reasoning-delta") reasoning += chunk.delta;
  }
  console.log(`  => elapsed ${Date.now() - c.t0}ms; reasoning=${JSON.stringify(reasoning)}`);
  console.log(`  => text=${JSON.stringify(out)}; error=${JSON.stringify(error)}; done frame=${JSON.stringify(done)}`);
  return { out, reasoning, error, done };
}

async function basic() {
  const room = `smoke-${crypto.randomUUID().slice(0, 8)}`;
  console.log(`# connect ${BASE}/${room}`);
  const c = new Client(room);
  await c.open();
  await c.waitFor((m) => m.type === "cf_agent_mcp_servers", 5000, "connect frames");
  await c.sleep(200);

  console.log("# client cf_agent_state (setState)");
  c.t0 = Date.now();
  c.send({
    type: "cf_agent_state",
    state: {
      model: opt("model", "@cf/meta/llama-3.3-70b-instruct-fp8-fast"),
      temperature: 0.5,
      stream: true,
      system: opt("system", "Be brief.")
    }
  });
  await c.sleep(300);

  console.log("# invalid cf_agent_state (model not a string)");
  c.t0 = Date.now();
  c.send({ type: "cf_agent_state", state: { model: 42 } });
  await c.waitFor((m) => m.type === "cf_agent_state_error", 3000, "cf_agent_state_error").catch((e) =>
    console.log(`  (${e.message})`)
  );

  console.log("# rpc getModels");
  c.t0 = Date.now();
  const rid = crypto.randomUUID();
  c.send({ type: "rpc", id: rid, method: "getModels", args: [] });
  const models = await c.waitFor((m) => m.type === "rpc" && m.id === rid, 5000, "getModels reply");
  const chatModels = (models.result ?? []).filter((m) => m.task?.name === "Text Generation");
  console.log(`  => success=${models.success} done=${models.done} total=${models.result?.length} text-generation=${chatModels.length}`);

  console.log("# rpc setConfig");
  c.t0 = Date.now();
  const sid = crypto.randomUUID();
  c.send({
    type: "rpc",
    id: sid,
    method: "setConfig",
    args: [{ model: opt("model", "@cf/meta/llama-3.3-70b-instruct-fp8-fast"), temperature: 0.7, stream: true }]
  });
  await c.waitFor((m) => m.type === "rpc" && m.id === sid, 5000, "setConfig reply");
  await c.sleep(200);

  console.log("# rpc unknown method");
  c.t0 = Date.now();
  const uid = crypto.randomUUID();
  c.send({ type: "rpc", id: uid, method: "noSuchMethod", args: [] });
  await c.waitFor((m) => m.type === "rpc" && m.id === uid, 5000, "error reply");

  console.log(`# chat: ${JSON.stringify(opt("text", "Hello there"))}`);
  await chat(c, opt("text", "Hello there"), { system: "System message in history." });
  c.close();
}

// One fresh room per scenario. [model, text, timeoutMs, expectNoDone]
const SCENARIOS = [
  [null, "Hello there"],
  ["@cf/qwen/qwq-32b", "Why is the sky blue?"],
  [null, "think first [reasoning]"],
  [null, "[error-before-text]"],
  [null, "[error-after-text]"],
  [null, "[rate-limit]"],
  [null, "[error:5007: No such model]"],
  ["@cf/nope/not-a-model", "unknown model"],
  // onChatMessage throws: the SDK logs it and sends NO frame for this request.
  [null, "[throw]", 3000, true],
  [null, "[no-response]"],
  [null, "[empty]"],
  [null, "[length]"],
  [null, "[repeat-newline]"],
  [null, "[long:5]"],
  [null, "[slow:500]"],
  [null, "[slow]", 20000]
];

async function cancelAndResume() {
  const room = `smoke-${crypto.randomUUID().slice(0, 8)}`;
  console.log(`\n# cancel: [slow:1000] then cf_agent_chat_request_cancel after the first text delta (room=${room})`);
  const a = new Client(room);
  a.quiet = true;
  await a.open();
  await a.waitFor((m) => m.type === "cf_agent_mcp_servers");
  a.quiet = false;
  a.t0 = Date.now();
  a.send(chatRequest("cancel-1", [msg("user", "[slow:1000]")]));
  await a.waitFor((m) => m.id === "cancel-1" && m.body?.includes("text-delta"), 5000, "first delta");
  a.send({ type: "cf_agent_chat_request_cancel", id: "cancel-1" });
  await a.waitFor((m) => m.id === "cancel-1" && m.done === true, 5000, "done after cancel").catch((e) =>
    console.log(`  !! ${e.message}`)
  );
  await a.sleep(1500);

  console.log(`\n# resume: client A sends [slow:1000]; client B joins the room mid-stream (room=${room})`);
  a.t0 = Date.now();
  a.quiet = true;
  a.send(chatRequest("resume-1", [msg("user", "[slow:1000]")]));
  await a.waitFor((m) => m.id === "resume-1" && m.body?.includes("text-delta"), 5000, "first delta");
  const b = new Client(room);
  console.log("  -- client B connects");
  await b.open();
  await b.waitFor((m) => m.type === "cf_agent_mcp_servers");
  b.send({ type: "cf_agent_stream_resume_request" });
  const r = await b.waitFor(
    (m) => m.type === "cf_agent_stream_resuming" || m.type === "cf_agent_stream_resume_none",
    3000,
    "resume answer"
  );
  if (r.type === "cf_agent_stream_resuming") b.send({ type: "cf_agent_stream_resume_ack", id: r.id });
  await b.waitFor((m) => m.type === "cf_agent_use_chat_response" && m.done === true, 10000, "done on B").catch((e) =>
    console.log(`  !! ${e.message}`)
  );
  await a.sleep(300);
  a.close();
  b.close();
}

async function all() {
  for (const [model, text, timeout, expectNoDone] of SCENARIOS) {
    const room = `smoke-${crypto.randomUUID().slice(0, 8)}`;
    console.log(`\n# scenario model=${model ?? "(default)"} text=${JSON.stringify(text)} room=${room}`);
    const c = new Client(room);
    c.quiet = true;
    await c.open();
    await c.waitFor((m) => m.type === "cf_agent_mcp_servers", 5000, "connect frames");
    c.quiet = false;
    if (model) {
      const sid = crypto.randomUUID();
      c.send({ type: "rpc", id: sid, method: "setConfig", args: [{ model, temperature: 1, stream: true }] });
      await c.waitFor((m) => m.type === "rpc" && m.id === sid);
    }
    try {
      await chat(c, text, { timeoutMs: timeout ?? 15000 });
      if (expectNoDone) {
        console.log("  !! expected no done frame");
        process.exitCode = 1;
      }
    } catch (e) {
      if (expectNoDone) console.log(`  => as expected: ${e.message}`);
      else {
        console.log(`  !! ${e.message}`);
        process.exitCode = 1;
      }
    }
    c.close();
  }
}

try {
  if (flag("all")) {
    await all();
    await cancelAndResume();
  } else if (flag("cancel-resume")) await cancelAndResume();
  else await basic();
} catch (e) {
  console.error(`FAILED: ${e.message}`);
  process.exitCode = 1;
}
setTimeout(() => process.exit(), 300);
