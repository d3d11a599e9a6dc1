// The AI SDK's own client (npm `ai`, unmodified) against a real edge: prints one JSON line.
// node transport.mjs <scenario>, with WEB_DIR (where `ai` is installed), EDGE_URL, API_KEY,
// MODEL, MAX_TOKENS, CHAT_ID in the environment. Scenarios:
//   send    sendMessages streams a whole answer; then reconnectToStream gives null
//   resume  a stream aborted mid-answer, resumed with reconnectToStream; then null
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const env = process.env;
const require = createRequire(path.join(env.WEB_DIR, 'package.json'));
const { DefaultChatTransport, readUIMessageStream } = await import(
  pathToFileURL(require.resolve('ai')).href
);

const transport = new DefaultChatTransport({
  api: `${env.EDGE_URL}/v1/ui/chat`,
  headers: { Authorization: `Bearer ${env.API_KEY}` },
  body: { model: env.MODEL, params: { max_tokens: Number(env.MAX_TOKENS), seed: 1 } },
});
const chatId = env.CHAT_ID;
const question = {
  id: 'question-1',
  role: 'user',
  parts: [{ type: 'text', text: 'Tell me about the for statement.' }],
};

function send(abortSignal) {
  return transport.sendMessages({
    chatId,
    messages: [question],
    trigger: 'submit-message',
    messageId: undefined,
    abortSignal,
  });
}

// Every snapshot of the message a stream builds: its ids, its last text, the chunks' types.
async function read(stream) {
  const types = [];
  const counted = stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        types.push(chunk.type);
        controller.enqueue(chunk);
      },
    }),
  );
  const ids = new Set();
  let last;
  for await (const message of readUIMessageStream({ stream: counted })) {
    ids.add(message.id);
    last = message;
  }
  const text = last.parts.filter((p) => p.type === 'text').map((p) => p.text).join('');
  return { ids: [...ids], role: last.role, text, types, parts: last.parts.length };
}

async function afterEnd() {
  return (await transport.reconnectToStream({ chatId })) === null;
}

async function sendScenario() {
  const answer = await read(await send(undefined));
  return { answer, reconnect_after_end_is_null: await afterEnd() };
}

async function resumeScenario() {
  const controller = new AbortController();
  const reader = (await send(controller.signal)).getReader();
  let messageId;
  let partial = '';
  let deltas = 0;
  let abortError = null;
  try {
    while (deltas < Number(env.ABORT_AFTER_DELTAS ?? 3)) {
      const { done, value } = await reader.read();
      if (done) throw new Error('the answer ended before it was aborted');
      if (value.type === 'start') messageId = value.messageId;
      if (value.type === 'text-delta') {
        partial += value.delta;
        deltas += 1;
      }
    }
    controller.abort();
    // A chunk queued before the abort may still be read; then the abort's error comes.
    while (!(await reader.read()).done);
  } catch (error) {
    abortError = error.name;
  }
  const resumed = await transport.reconnectToStream({ chatId });
  if (resumed === null) return { messageId, partial, abortError, resumed: null };
  const answer = await read(resumed);
  return { messageId, partial, abortError, answer, reconnect_after_end_is_null: await afterEnd() };
}

const scenarios = { send: sendScenario, resume: resumeScenario };
try {
  console.log(JSON.stringify(await scenarios[process.argv[2]]()));
} catch (error) {
  console.log(JSON.stringify({ error: `${error.name}: ${error.message}` }));
  process.exitCode = 1;
}
