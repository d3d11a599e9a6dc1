// Reads a UI message stream (SSE text) on stdin and prints, as JSON, the message the AI SDK's
// own client builds from it: DefaultChatTransport (its public `fetch` option hands it the
// bytes) and readUIMessageStream, unmodified. WEB_DIR names where `ai` is installed.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(path.join(process.env.WEB_DIR, 'package.json'));
const { DefaultChatTransport, readUIMessageStream } = await import(
  pathToFileURL(require.resolve('ai')).href
);

let body = '';
for await (const piece of process.stdin) body += piece;
const transport = new DefaultChatTransport({
  api: 'http://relayline.invalid/v1/ui/chat',
  fetch: async () =>
    new Response(body, { headers: { 'content-type': 'text/event-stream' } }),
});
const types = [];
const errors = [];
try {
  const stream = await transport.sendMessages({
    chatId: 'chat', messages: [], trigger: 'submit-message', messageId: undefined,
  });
  const counted = stream.pipeThrough(new TransformStream({
    transform(chunk, controller) { types.push(chunk.type); controller.enqueue(chunk); },
  }));
  let last = null;
  for await (const message of readUIMessageStream({
    stream: counted, onError: (error) => errors.push(String(error.message ?? error)),
  })) last = message;
  console.log(JSON.stringify({ message: last, types, errors }));
} catch (error) {
  console.log(JSON.stringify({ thrown: `${error.name}: ${error.message}`, types, errors }));
}
