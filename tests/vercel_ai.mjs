// The real Vercel AI SDK against llama.cpp's OpenAI-compatible server, exporting its telemetry
// through the OpenTelemetry JS SDK (OTLP/HTTP protobuf) to a localobs receiver.
//
// node vercel_ai.mjs OTLP_URL LLM_URL MAJOR
//
// MAJOR 6 uses `experimental_telemetry` (the SDK's own `ai.*` spans); MAJOR 7 registers the
// `@ai-sdk/otel` integration, whose spans follow the GenAI conventions. Three calls: generateText,
// streamText (consumed to the end), and generateText with a forced tool (a 135M model never picks
// one itself; llama.cpp turns the forced function into a grammar, so the call is real model
// output) whose execution makes an `ai.toolCall` / `execute_tool` span. Prints one JSON line:
// what the SDK returned, so the test compares the stored calls with it, and `outbound`: every
// request to a host other than loopback, refused here. Node 20's fetch and http ignore
// HTTP(S)_PROXY, so the test's refusing proxy alone could not see them; this guard wraps both
// before any SDK module is loaded.
import http from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';

const outbound = [];
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  if (LOOPBACK.has(url.hostname)) return realFetch(input, init);
  outbound.push(url.href);
  return Promise.reject(new Error(`refused by the test: ${url.href}`));
};
for (const module of [http, https]) {
  for (const name of ['request', 'get']) {
    const real = module[name];
    module[name] = (...args) => {
      const first = args[0];
      const host =
        typeof first === 'string' || first instanceof URL
          ? new URL(first).hostname
          : (first?.hostname ?? first?.host ?? 'localhost');
      if (!LOOPBACK.has(host)) {
        outbound.push(`${module === https ? 'https' : 'http'}://${host}`);
        throw new Error(`refused by the test: ${host}`);
      }
      return real(...args);
    };
  }
}
syncBuiltinESMExports();
const { createOpenAICompatible } = await import('@ai-sdk/openai-compatible');
const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
const { resourceFromAttributes } = await import('@opentelemetry/resources');
const { NodeTracerProvider, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-node');
const ai = await import('ai');
const { z } = await import('zod');

const [otlpUrl, llmUrl, major] = process.argv.slice(2);
const SERVICE = 'vercel-ai-app';

// Every span's attributes as the SDK set them, for the test's check that the stored spans
// rebuild them exactly.
const sent = [];
const recorder = {
  onStart() {},
  onEnd(span) {
    sent.push({ span_id: span.spanContext().spanId, attributes: span.attributes });
  },
  forceFlush: async () => {},
  shutdown: async () => {},
};
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': SERVICE }),
  spanProcessors: [
    new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${otlpUrl}/v1/traces` })),
    recorder,
  ],
});
provider.register();

if (major === '7') {
  const { OpenTelemetry } = await import('@ai-sdk/otel');
  ai.registerTelemetry(new OpenTelemetry());
}

const llama = createOpenAICompatible({ name: 'llamacpp', baseURL: llmUrl, apiKey: 'unused' });
const model = llama('smollm2');
const common = {
  model,
  system: 'You are a terse assistant.',
  maxOutputTokens: 16,
  temperature: 0,
  experimental_telemetry: { isEnabled: true, functionId: 'vercel-test' },
};

const generated = await ai.generateText({ ...common, prompt: 'Name one colour of the sky.' });

const stream = ai.streamText({ ...common, prompt: 'Name one fruit.' });
let streamedText = '';
for await (const delta of stream.textStream) streamedText += delta;

const toolArgs = [];
const withTool = await ai.generateText({
  ...common,
  maxOutputTokens: 24,
  prompt: 'What is the weather in Paris?',
  tools: {
    get_weather: ai.tool({
      description: 'The weather forecast for a city.',
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        toolArgs.push(city);
        return 'sunny, 21 C';
      },
    }),
  },
  toolChoice: { type: 'tool', toolName: 'get_weather' },
});

await provider.forceFlush();
await provider.shutdown();
console.log(
  JSON.stringify({
    generated: { text: generated.text, usage: generated.usage },
    streamed: { text: streamedText, usage: await stream.usage },
    tool: {
      calls: withTool.toolCalls.map((c) => ({ name: c.toolName, input: c.input })),
      executed: toolArgs,
    },
    outbound,
    sent,
  }),
);
