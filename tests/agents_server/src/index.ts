/**
 * Local stand-in for the Cloudflare AI Playground (playground.ai.cloudflare.com).
 *
 * It runs the real Agents SDK chat server (`AIChatAgent` from @cloudflare/ai-chat,
 * routed by `routeAgentRequest` from `agents`) inside `wrangler dev` / workerd, so
 * the WebSocket frames are produced by the same SDK code as the live site. Only
 * the model is fake: a scripted `MockLanguageModelV3` from `ai/test`, whose
 * behaviour is picked by the text of the last user message (see README.md).
 *
 * Test fixture only. Never deployed.
 */
import { AIChatAgent } from "@cloudflare/ai-chat";
import { callable, routeAgentRequest } from "agents";
import { convertToModelMessages, streamText, type UIMessage } from "ai";
import { MockLanguageModelV3, simulateReadableStream } from "ai/test";

// ---------------------------------------------------------------------------
// Types

// Minimal structural types so the file needs no @cloudflare/workers-types.
type Env = { Playground: unknown; GATE?: string; SCRIPTED_MODEL_URL?: string };

/** Same shape as the public playground's PlaygroundState (site/ai-playground/src/server.ts). */
export interface PlaygroundState {
  model: string;
  temperature: number;
  stream: boolean;
  system: string;
  useExternalProvider?: boolean;
  externalProvider?: "openai" | "anthropic" | "google" | "xai";
  externalModel?: string;
  authMethod?: "provider-key" | "gateway";
}

type ConfigUpdate = Partial<
  Pick<PlaygroundState, "model" | "temperature" | "stream" | "system">
>;

// ---------------------------------------------------------------------------
// Model catalog (shape of env.AI.models(): the public Workers AI catalog the old playground shipped,
// abbreviated, brought to the live site's catalog of 2026-09-30).

const TEXT_GENERATION = {
  id: "c329a1f9-323d-4e91-b2aa-582dd4188d34",
  name: "Text Generation",
  description:
    "Family of generative text models, such as large language models (LLM), that can be adapted for a variety of natural language tasks."
};
const TEXT_TO_IMAGE = {
  id: "3d6e1f35-341b-4915-a6c8-9a7142a9033a",
  name: "Text-to-Image",
  description:
    "Generates images from input text. These models can be used to generate and modify images based on text prompts."
};
const SPEECH_RECOGNITION = {
  id: "dfce1c48-2a81-462e-a7fd-de97ce985207",
  name: "Automatic Speech Recognition",
  description:
    "Automatic speech recognition (ASR) models convert a speech signal, typically an audio input, to text."
};
const TEXT_EMBEDDINGS = {
  id: "0137cdcf-162a-4108-94f2-1ca59e8c65ee",
  name: "Text Embeddings",
  description:
    "Feature extraction models transform raw data into numerical features that can be processed while preserving the information in the original data set."
};

type CatalogRow = [
  name: string,
  id: string,
  source: number,
  createdAt: string,
  description: string,
  props: Record<string, string>,
  task?: typeof TEXT_GENERATION
];

const ROWS: CatalogRow[] = [
  // The live catalog's Text Generation rows as captured on 2026-09-30 (the getModels answer in
  // OmniRoute's fixture): names, uuids and properties as captured, every value the string "true".
  // It carries no context windows; the client knows those. Descriptions, sources and dates are
  // not in the capture: the older catalog's where it had the model, else ours, dated the capture's
  // day.
  ["@cf/meta/llama-3.3-70b-instruct-fp8-fast", "7a143886-c9bb-4a1c-be95-377b1973bc3b", 1, "2024-12-06 17:09:18.338", "Llama 3.3 70B quantized to fp8 precision, optimized to be faster.", { function_calling: "true" }],
  ["@cf/meta/llama-3.1-8b-instruct-fp8", "9b9c87c6-d4b7-494c-b177-87feab5904db", 1, "2024-07-25 17:28:43.328", "Llama 3.1 8B quantized to FP8 precision", {}],
  ["@cf/meta/llama-3.2-1b-instruct", "906a57fd-b018-4d6c-a43e-a296d4cc5839", 1, "2024-09-25 21:36:32.050", "The Llama 3.2 instruction-tuned text only models are optimized for multilingual dialogue use cases.", {}],
  ["@cf/meta/llama-3.2-3b-instruct", "d9dc8363-66f4-4bb0-8641-464ee7bfc131", 1, "2024-09-25 20:05:43.986", "The Llama 3.2 instruction-tuned text only models are optimized for multilingual dialogue use cases.", { lora: "true" }],
  ["@cf/meta/llama-3.2-11b-vision-instruct", "2cbc033b-ded8-4e02-bbb2-47cf05d5cfe5", 1, "2024-09-25 05:36:04.547", "The Llama 3.2-Vision instruction-tuned models are optimized for visual recognition.", { lora: "true", vision: "true" }],
  ["@cf/meta/llama-4-scout-17b-16e-instruct", "06455e78-19f7-487b-93cd-c05a3dd07813", 1, "2025-04-05 20:25:56.137", "Meta's Llama 4 Scout is a 17 billion parameter model with 16 experts that is natively multimodal.", { function_calling: "true", vision: "true" }],
  ["@cf/meta/llama-guard-3-8b", "cc80437b-9a8d-4f1a-9c77-9aaf0d226922", 1, "2025-01-22 23:26:23.495", "Llama Guard 3 is a Llama-3.1-8B pretrained model, fine-tuned for content safety classification.", { lora: "true" }],
  ["@cf/meta-llama/llama-2-7b-chat-hf-lora", "7ed8d8e8-6040-4680-843a-aef402d6b013", 1, "2026-09-30 00:00:00.000", "Llama 2 7B chat, a base for LoRA adapters.", { lora: "true" }],
  ["@cf/mistralai/mistral-small-3.1-24b-instruct", "31690291-ebdc-4f98-bcfc-a44844e215b7", 1, "2025-03-18 03:28:37.890", "Building upon Mistral Small 3 (2501), Mistral Small 3.1 (2503) adds state-of-the-art vision understanding.", { function_calling: "true" }],
  ["@cf/mistral/mistral-7b-instruct-v0.2-lora", "c58c317b-0c15-4bda-abb6-93e275f282d9", 1, "2026-09-30 00:00:00.000", "Mistral 7B Instruct v0.2, a base for LoRA adapters.", { lora: "true" }],
  ["@cf/google/gemma-4-26b-a4b-it", "328adb49-4a7d-43e3-a2d5-802ae8100fe7", 1, "2026-09-30 00:00:00.000", "Gemma 4 26B A4B is Google's mixture-of-experts Gemma 4 model; it reads images too.", { function_calling: "true", vision: "true" }],
  ["@cf/google/gemma-2b-it-lora", "e8e8abe4-a372-4c13-815f-4688ba655c8e", 1, "2026-09-30 00:00:00.000", "Gemma 2B instruct, a base for LoRA adapters.", { lora: "true" }],
  ["@cf/google/gemma-7b-it-lora", "337170b7-bd2f-4631-9a57-688b579cf6d3", 1, "2026-09-30 00:00:00.000", "Gemma 7B instruct, a base for LoRA adapters.", { lora: "true" }],
  ["@cf/aisingapore/gemma-sea-lion-v4-27b-it", "41ca173f-72d5-4420-8915-49e835d2676e", 1, "2026-09-30 00:00:00.000", "Gemma-SEA-LION v4 27B is AI Singapore's Gemma model for Southeast Asian languages.", {}],
  ["@cf/qwen/qwen2.5-coder-32b-instruct", "51b71d5b-8bc0-4489-a107-95e542b69914", 1, "2025-02-27 00:31:43.829", "Qwen2.5-Coder is the latest series of Code-Specific Qwen large language models.", { lora: "true" }],
  ["@cf/qwen/qwq-32b", "02c16efa-29f5-4304-8e6c-3d188889f875", 1, "2025-03-05 21:52:40.974", "QwQ is the reasoning model of the Qwen series.", { lora: "true" }],
  ["@cf/qwen/qwen3-30b-a3b-fp8", "4090e54c-eee4-4221-b410-10c1c0f92f17", 1, "2026-09-30 00:00:00.000", "Qwen3 is the latest generation of large language models in Qwen series.", { function_calling: "true" }],
  ["@cf/qwen/qwen3.8-27b", "22338608-b54d-4f04-884e-ab06f3dbbf3e", 1, "2026-09-30 00:00:00.000", "Qwen3.8 27B is a dense Qwen model that reads images and calls tools.", { function_calling: "true", vision: "true" }],
  ["@cf/deepseek-ai/deepseek-r1-distill-qwen-32b", "ad01ab83-baf8-4e7b-8fed-a0a219d4eb45", 1, "2025-01-22 19:48:55.776", "DeepSeek-R1-Distill-Qwen-32B is a model distilled from DeepSeek-R1 based on Qwen2.5.", {}],
  ["@cf/openai/gpt-oss-120b", "f9f2250b-1048-4a52-9910-d0bf976616a1", 1, "2025-08-05 10:27:29.131", "OpenAI's open-weight models designed for powerful reasoning, agentic tasks, and versatile developer use cases.", { function_calling: "true" }],
  ["@cf/openai/gpt-oss-20b", "188a4e1e-253e-46d0-9616-0bf8c149763f", 1, "2025-08-05 10:49:53.265", "OpenAI's open-weight models designed for powerful reasoning, agentic tasks, and versatile developer use cases.", { function_calling: "true" }],
  ["@cf/zai-org/glm-4.7-flash", "86b3e51a-4b05-43fa-a403-0f27821919d2", 1, "2026-09-30 00:00:00.000", "GLM-4.7-Flash is a fast, lightweight model from Z.ai.", { function_calling: "true" }],
  ["@cf/zai-org/glm-5.3", "c05fea67-c5a9-49ca-a7ab-446a0d62cb7a", 1, "2026-09-30 00:00:00.000", "GLM-5.3 is Z.ai's flagship model for reasoning, coding and agents.", { require_workers_paid: "true", function_calling: "true" }],
  ["@cf/zai-org/glm-5.3-flash", "95666467-f984-4211-b48a-7c246dd4adb7", 1, "2026-09-30 00:00:00.000", "GLM-5.3-Flash is the fast GLM-5.3; it reads images too.", { require_workers_paid: "true", function_calling: "true", vision: "true" }],
  ["@cf/nvidia/nemotron-3-120b-a12b", "43dbadb4-2b0a-47e9-8479-34a49b971f1e", 1, "2026-09-30 00:00:00.000", "NVIDIA Nemotron 3 Super is a hybrid mixture-of-experts model for agentic applications.", { function_calling: "true" }],
  ["@cf/ibm-granite/granite-4.0-h-micro", "7952d0cc-cb00-4e10-be02-667565c2ee0f", 1, "2026-09-30 00:00:00.000", "Granite 4.0 H Micro is IBM's small hybrid model, tuned for following instructions and calling tools.", { function_calling: "true" }],
  // Gone from the live catalog by 2026-09-30, kept as the older catalog had them: the tool-family
  // tests play one model of every family.
  ["@cf/google/gemma-3-12b-it", "053d5ac0-861b-4d3b-8501-e58d00417ef8", 1, "2025-03-18 03:58:02.423", "Gemma 3 models are well-suited for a variety of text generation and image understanding tasks.", { context_window: "80000", lora: "true" }],
  ["@hf/mistral/mistral-7b-instruct-v0.2", "b97d7069-48d9-461c-80dd-445d20a632eb", 2, "2024-04-02 13:00:59.244", "The Mistral-7B-Instruct-v0.2 Large Language Model (LLM) is an instruct fine-tuned version of Mistral-7B-v0.2.", { beta: "true", context_window: "3072", lora: "true" }],
  ["@hf/nousresearch/hermes-2-pro-mistral-7b", "44774b85-08c8-4bb8-8d2a-b06ebc538a79", 2, "2024-04-01 23:45:53.800", "Hermes 2 Pro on Mistral 7B is the new flagship 7B Hermes!", { beta: "true", context_window: "24000", function_calling: "true" }],
  ["@cf/moonshotai/kimi-k2.6", "00000000-0000-4000-8000-000000000303", 1, "2026-04-20 00:00:00.000", "Kimi K2.6 is a large mixture-of-experts model from Moonshot AI.", { context_window: "262144", function_calling: "true" }],
  // Non-chat models: a client must filter on task.name == "Text Generation".
  ["@cf/black-forest-labs/flux-1-schnell", "00000000-0000-4000-8000-000000000401", 1, "2024-08-29 16:37:39.541", "FLUX.1 [schnell] is a 12 billion parameter rectified flow transformer capable of generating images from text descriptions.", {}, TEXT_TO_IMAGE],
  ["@cf/openai/whisper", "00000000-0000-4000-8000-000000000402", 1, "2023-09-25 19:21:11.898", "Whisper is a general-purpose speech recognition model.", { beta: "true" }, SPEECH_RECOGNITION],
  ["@cf/baai/bge-base-en-v1.5", "00000000-0000-4000-8000-000000000403", 1, "2023-09-25 19:21:11.898", "BAAI general embedding (Base) model that transforms any given text into a 768-dimensional vector.", { max_input_tokens: "512", output_dimensions: "768" }, TEXT_EMBEDDINGS]
];

export const MODELS = ROWS.map(
  ([name, id, source, created_at, description, props, task]) => ({
    id,
    source,
    name,
    description,
    task: task ?? TEXT_GENERATION,
    created_at,
    tags: [] as string[],
    properties: Object.entries(props).map(([property_id, value]) => ({
      property_id,
      value
    }))
  })
);
const CHAT_MODEL_IDS = new Set(
  MODELS.filter((m) => m.task.name === "Text Generation").map((m) => m.name)
);

// ---------------------------------------------------------------------------
// Scripted model
//
// What the model says is decided by the scripted model of tests/scripted_model.py (the same one
// the reference server of the HTTP wire formats replies with), asked over loopback at
// env.SCRIPTED_MODEL_URL (tests/agents_worker.py starts it and passes the URL with --var). This
// file only plays the script it gets back through the AI SDK, so every scripted behaviour is
// written once, in Python.

/** An error whose message is forwarded to the client verbatim (others become "An error occurred."). */
class ExposedError extends Error {
  exposed = true;
}

const NO_USAGE = {
  inputTokens: { total: undefined, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: undefined, text: undefined, reasoning: undefined }
};

type StreamPart = Record<string, unknown> & { type: string };

type ScriptedError = { message: string; exposed: boolean };

/** The answer of tests/scripted_model.py `agents_script`. */
type Script = {
  /** "stream": stream the parts below; "no-response": onChatMessage returns nothing; "throw": it throws */
  respond: "stream" | "no-response" | "throw";
  reasoning: string[];
  text: string[];
  /** thrown from doStream, before any stream part */
  errorBefore: ScriptedError | null;
  /** emitted as a stream `error` part after the text deltas */
  errorAfter: ScriptedError | null;
  /** waited before each text/reasoning delta */
  delayMs: number;
  finishReason: "stop" | "length";
};

function textOfUIMessage(m: UIMessage): string {
  return m.parts
    .map((p) => (p.type === "text" ? (p as { text: string }).text : ""))
    .join("");
}

/** An image the model was handed, as the scripted model reports it back in the echo. */
type ImageSeen = {
  mediaType: string;
  bytes: number;
  sha256: string;
  /** which user message of the prompt held it, counted from 1 */
  userMessage: number;
};

type PromptMessage = { role: string; content: unknown };
type PromptPart = { type: string; mediaType?: string; data?: unknown };

function bytesOf(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof URL) return new TextEncoder().encode(data.href); // never sent by the client
  let text = String(data);
  if (text.startsWith("data:")) text = text.slice(text.indexOf(",") + 1);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Every image in the prompt the AI SDK hands the model (after convertToModelMessages and its
 * own conversion of file parts), so what the echo reports is what reached the model.
 */
async function imagesIn(prompt: PromptMessage[]): Promise<ImageSeen[]> {
  const seen: ImageSeen[] = [];
  let userMessage = 0;
  for (const message of prompt) {
    if (message.role !== "user") continue;
    userMessage++;
    if (!Array.isArray(message.content)) continue;
    for (const part of message.content as PromptPart[]) {
      if (part.type !== "file") continue;
      const bytes = bytesOf(part.data);
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
      const sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
      seen.push({ mediaType: `${part.mediaType}`, bytes: bytes.byteLength, sha256, userMessage });
    }
  }
  return seen;
}

/** Ask the scripted model what to do with the room's history (and the images the model got). */
async function fetchScript(
  env: Env,
  room: string,
  state: PlaygroundState,
  messages: UIMessage[],
  images: ImageSeen[] = []
): Promise<Script> {
  if (!env.SCRIPTED_MODEL_URL) {
    throw new Error("SCRIPTED_MODEL_URL is not set: start this Worker with tests/agents_worker.py");
  }
  const response = await fetch(env.SCRIPTED_MODEL_URL, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      room,
      // The state as the echo prints it (a template literal's ToString).
      model: `${state.model}`,
      temperature: `${state.temperature}`,
      system: `${state.system ?? ""}`,
      chatModel: CHAT_MODEL_IDS.has(state.model),
      messages: messages.map((m) => ({ role: m.role, text: textOfUIMessage(m) })),
      ...(images.length ? { images } : {})
    })
  });
  if (!response.ok) {
    throw new Error(`the scripted model answered ${response.status}: ${await response.text()}`);
  }
  return (await response.json()) as Script;
}

function scriptedError(error: ScriptedError): Error {
  return error.exposed ? new ExposedError(error.message) : new Error(error.message);
}

/** How a slowed reply ended, as the tests read it from the scripted model (`GET /streams`). */
type StreamEnd = { ended: "finished" | "cancelled"; written: number; total: number };

/** Tell the scripted model how the slowed reply in `room` ended (a test waits for this). */
function reportStreamEnd(env: Env, room: string, end: StreamEnd): Promise<void> {
  return fetch(`${env.SCRIPTED_MODEL_URL}/streams`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ room, ...end })
  }).then(
    () => undefined,
    () => undefined // a test that waits for the report says so; the reply is not to fail for it
  );
}

/**
 * Like simulateReadableStream, but waits `delayMs` before each text/reasoning delta, and says
 * once how it ended: read to its end, or cancelled (the client's cancel aborts the request, and
 * the SDK cancels the model's stream) after `written` deltas. A test proves a cancellation by
 * this report instead of by waiting and finding no text.
 */
function delayedDeltas(
  parts: StreamPart[],
  delayMs: number,
  abortSignal: AbortSignal | undefined,
  report: (end: StreamEnd) => void
): ReadableStream<never> {
  const total = parts.filter((p) => p.type.endsWith("-delta")).length;
  let i = 0;
  let written = 0;
  let ended = false;
  const end = (how: StreamEnd["ended"]) => {
    if (ended) return;
    ended = true;
    report({ ended: how, written, total });
  };
  // A cancel may come before the model is called (while the script is fetched): the signal is
  // aborted already, and a model must not start then, as Workers AI's aborted fetch would not.
  if (abortSignal?.aborted) end("cancelled");
  else abortSignal?.addEventListener("abort", () => end("cancelled"));
  const stop = (controller: ReadableStreamDefaultController) => {
    try {
      controller.close();
    } catch {} // a stream its reader cancelled is closed already
  };
  return new ReadableStream({
    async pull(controller) {
      if (ended) return stop(controller);
      if (i >= parts.length) {
        end("finished");
        return controller.close();
      }
      const part = parts[i++];
      if (part.type.endsWith("-delta")) {
        await new Promise((r) => setTimeout(r, delayMs));
        if (ended) return stop(controller); // cancelled during the wait: nothing more
        written++;
      }
      controller.enqueue(part as never);
    },
    cancel() {
      end("cancelled");
    }
  });
}

function scriptedModel(
  firstScript: Script,
  modelId: string,
  report: (end: StreamEnd) => void,
  withImages: (images: ImageSeen[]) => Promise<Script>
) {
  return new MockLanguageModelV3({
    provider: "workers-ai.mock",
    modelId,
    doStream: async (options: { abortSignal?: AbortSignal; prompt: PromptMessage[] }) => {
      // A prompt with images asks the scripted model again, telling it what it was shown.
      const images = await imagesIn(options.prompt);
      const script = images.length ? await withImages(images) : firstScript;
      if (script.errorBefore) throw scriptedError(script.errorBefore);
      const parts: StreamPart[] = [
        { type: "stream-start", warnings: [] },
        { type: "response-metadata", id: crypto.randomUUID(), modelId, timestamp: new Date() }
      ];
      if (script.reasoning.length) {
        parts.push({ type: "reasoning-start", id: "r0" });
        for (const delta of script.reasoning) parts.push({ type: "reasoning-delta", id: "r0", delta });
        parts.push({ type: "reasoning-end", id: "r0" });
      }
      if (script.text.length) {
        parts.push({ type: "text-start", id: "t0" });
        for (const delta of script.text) parts.push({ type: "text-delta", id: "t0", delta });
        if (!script.errorAfter) parts.push({ type: "text-end", id: "t0" });
      }
      if (script.errorAfter) {
        parts.push({ type: "error", error: scriptedError(script.errorAfter) });
      } else {
        const unified = script.finishReason;
        parts.push({ type: "finish", finishReason: { unified, raw: unified }, usage: NO_USAGE });
      }
      // biome-ignore lint: the mock's stream part type is structural
      const chunks = parts as never[];
      return {
        stream:
          script.delayMs > 0
            ? delayedDeltas(parts, script.delayMs, options.abortSignal, report)
            : simulateReadableStream({ chunks })
      };
    }
  });
}

// ---------------------------------------------------------------------------
// Agent

type ClientFrame = { type: string; method?: string };

function describeClientFrame(raw: string): ClientFrame {
  try {
    const frame = JSON.parse(raw) as { type?: unknown; method?: unknown };
    const type = typeof frame.type === "string" ? frame.type : "(no type)";
    return typeof frame.method === "string" ? { type, method: frame.method } : { type };
  } catch {
    return { type: "(not JSON)" };
  }
}

/**
 * The public playground as it was published (before 2026-06): client state configures the room,
 * and there is no `setConfig` (an RPC call of it gets "Method setConfig does not exist").
 */
export class PlaygroundWithoutSetConfig extends AIChatAgent<Env, PlaygroundState> {
  /**
   * Every frame clients sent this room, in order (the type, and the method of an RPC call): how
   * tests see how a room was configured. Read at `<room>/client-frames`.
   */
  clientFrames: ClientFrame[] = [];

  // biome-ignore lint: the SDK's constructor arguments (DurableObjectState, Env)
  constructor(ctx: any, env: Env) {
    super(ctx, env);
    // The SDK wraps onMessage and onRequest on the instance; these wrap around its wrappers.
    const handleMessage = this.onMessage;
    this.onMessage = async (connection, message) => {
      if (typeof message === "string") this.clientFrames.push(describeClientFrame(message));
      return handleMessage(connection, message);
    };
    const handleRequest = this.onRequest;
    this.onRequest = async (request: Request) => {
      if (new URL(request.url).pathname.endsWith("/client-frames")) {
        return Response.json(this.clientFrames);
      }
      return handleRequest(request);
    };
  }

  initialState: PlaygroundState = {
    model: "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    temperature: 1,
    stream: true,
    system: "You are a helpful assistant.",
    // Extra keys the public playground state carries (clients must ignore them).
    useExternalProvider: false,
    externalProvider: "openai",
    authMethod: "provider-key"
  };

  /** Client `cf_agent_state` frames land here; throwing rejects them with cf_agent_state_error. */
  validateStateChange(nextState: PlaygroundState, source: unknown) {
    if (source === "server") return;
    if (!nextState || typeof nextState !== "object" || typeof nextState.model !== "string") {
      throw new Error("state.model must be a string");
    }
    // Lets a test play a server that refuses client state (configure it with setConfig instead).
    if (typeof nextState.system === "string" && nextState.system.includes("[reject-state]")) {
      throw new Error("client state is not accepted here");
    }
  }

  @callable()
  async getModels() {
    return MODELS;
  }

  async onChatMessage(
    onFinish: unknown,
    options?: { abortSignal?: AbortSignal; requestId?: string }
  ): Promise<Response | undefined> {
    const state = this.state;
    const messages = this.messages as UIMessage[];
    const script = await fetchScript(this.env, this.name, state, messages);
    if (script.respond === "no-response") return undefined;
    if (script.respond === "throw") throw new Error("scripted exception in onChatMessage");

    const result = streamText({
      model: scriptedModel(
        script,
        state.model,
        (end) => {
          void reportStreamEnd(this.env, this.name, end);
        },
        (images) => fetchScript(this.env, this.name, state, messages, images)
      ),
      system: state.system,
      messages: await convertToModelMessages(messages),
      temperature: state.temperature,
      abortSignal: options?.abortSignal,
      // biome-ignore lint: onFinish type differs between SDK versions
      onFinish: onFinish as never
    });
    return result.toUIMessageStreamResponse({
      messageMetadata: ({ part }) =>
        part.type === "finish" ? { finishReason: part.finishReason } : undefined,
      onError: (error) =>
        error instanceof ExposedError || (error as { exposed?: boolean })?.exposed
          ? (error as Error).message
          : "An error occurred."
    });
  }
}

/** Lay a `setConfig` argument over the room state (the live site's RPC, captured 2026-08). */
function configured(state: PlaygroundState, config: ConfigUpdate): PlaygroundState {
  const next: PlaygroundState = { ...state };
  if (config && typeof config === "object") {
    if (typeof config.model === "string") next.model = config.model;
    if (typeof config.temperature === "number") next.temperature = config.temperature;
    if (typeof config.stream === "boolean") next.stream = config.stream;
    if (typeof config.system === "string") next.system = config.system;
  }
  return next;
}

/** The live site as captured: client state and the `setConfig` RPC both configure the room. */
export class Playground extends PlaygroundWithoutSetConfig {
  @callable()
  async setConfig(config: ConfigUpdate) {
    this.setState(configured(this.state, config));
  }
}

// Variants for the tests of configuring a room both ways (tests/integration_tests/
// test_agents_room_config.py). The client reaches one at /variant/<kebab-name>/agents/playground/
// <room>, which the fetch handler below routes to /agents/<kebab-name>/<room>.

const SLOW_SET_CONFIG_MS = 2000;

/** `setConfig` always refuses (throws); client state still works. */
export class PlaygroundRefusingSetConfig extends PlaygroundWithoutSetConfig {
  @callable()
  async setConfig(config: ConfigUpdate) {
    throw new Error(`setConfig refused model ${config?.model}: switched off here`);
  }
}

/** Client state is always refused (cf_agent_state_error); `setConfig` works. */
export class PlaygroundRefusingState extends Playground {
  validateStateChange(nextState: PlaygroundState, source: unknown) {
    if (source !== "server") throw new Error("client state is not accepted here");
  }
}

type Settings = Pick<PlaygroundState, "model" | "temperature" | "system">;

function settingsOf(state: PlaygroundState): Settings {
  return { model: state.model, temperature: state.temperature, system: state.system };
}

/**
 * Takes a client's state frame (no error; other connections get the broadcast), then puts its
 * own settings back over it, as a server whose settings are written only through `setConfig`
 * would. The put-back is a server change, so it is broadcast to the sender too.
 */
export class PlaygroundRevertingState extends Playground {
  kept: Settings = settingsOf(this.initialState);

  onStateChanged(state: PlaygroundState, source: unknown) {
    if (source === "server") return;
    this.setState({ ...state, ...this.kept });
  }

  @callable()
  async setConfig(config: ConfigUpdate) {
    const next = configured(this.state, config);
    this.kept = settingsOf(next);
    this.setState(next);
  }
}

/** As PlaygroundRevertingState, and `setConfig` ignores a system prompt: the live site as captured. */
export class PlaygroundIgnoringSystem extends PlaygroundRevertingState {
  @callable()
  async setConfig(config: ConfigUpdate) {
    const { system: _ignored, ...rest } = config ?? {};
    return super.setConfig(rest);
  }
}

/** Both ways refused: the client cannot choose the model at all. */
export class PlaygroundRefusingBoth extends PlaygroundRefusingSetConfig {
  validateStateChange(nextState: PlaygroundState, source: unknown) {
    if (source !== "server") throw new Error("client state is not accepted here");
  }
}

/** Both ways refused, `setConfig` only after SLOW_SET_CONFIG_MS: the reply comes before it. */
export class PlaygroundRefusingBothSlowly extends PlaygroundRefusingBoth {
  @callable()
  async setConfig(config: ConfigUpdate) {
    await new Promise((r) => setTimeout(r, SLOW_SET_CONFIG_MS));
    return super.setConfig(config);
  }
}

/** Applies `setConfig` at once but answers it only after SLOW_SET_CONFIG_MS. */
export class PlaygroundSlowSetConfig extends PlaygroundWithoutSetConfig {
  @callable()
  async setConfig(config: ConfigUpdate) {
    this.setState(configured(this.state, config));
    await new Promise((r) => setTimeout(r, SLOW_SET_CONFIG_MS));
  }
}

/**
 * An Agents SDK server of 2025, before resumable streams: it never announces a running reply
 * (no `cf_agent_stream_resuming` on connect) and ignores `cf_agent_stream_resume_request` and
 * `cf_agent_stream_resume_ack`. Replies still run to their end when the client leaves, and are
 * stored in the room (`get-messages`), as then.
 */
export class PlaygroundWithoutResume extends Playground {
  constructor(...args: ConstructorParameters<typeof Playground>) {
    super(...args);
    // The SDK's own (private) resume hooks, switched off on the instance.
    const silent = {
      handleResumeRequest: async () => {},
      handleResumeAck: async () => {},
      notifyStreamResuming: () => {}
    };
    const hooks = this as unknown as Record<string, unknown>;
    hooks._notifyStreamResuming = () => {};
    hooks._resumeHandshake = () => silent;
  }
}

/** `/variant/<agent>/agents/playground/<room>` → `/agents/<agent>/<room>`; other paths unchanged. */
function routedToVariant(request: Request): Request {
  const url = new URL(request.url);
  const match = /^\/variant\/([a-z-]+)\/agents\/playground\/(.*)$/.exec(url.pathname);
  if (!match) return request;
  url.pathname = `/agents/${match[1]}/${match[2]}`;
  return new Request(url.toString(), request);
}

// --- A stand-in for Cloudflare's edge in front of the playground (wrangler dev --var GATE:...) ---
//
// GATE=cookie:  the site page is behind a challenge interstitial that clears itself after a
//   moment (by script); the page then sets an HttpOnly cookie by header and another by script
//   after a delay. Agents requests without both cookies get a 403 challenge page, so a client
//   needs a browser session (and the refresh-and-retry path) to get in.
// GATE=browser: as "cookie", and a WebSocket upgrade must also look like a browser's, as the live
//   edge refuses upgrades whose TLS handshake is not a browser's. Here the stand-in for that
//   fingerprint is the compression offer Chromium makes on every upgrade
//   (Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits), which this
//   project's direct client does not make: only the in-page relay gets in.

const CLEARANCE = "cf_clearance";
const CLEARANCE_VALUE = "cleared-by-browser";
const SCRIPT_COOKIE = "pg_js";
const SCRIPT_COOKIE_VALUE = "set-by-script";

const INTERSTITIAL = `<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head>
<body><p>Checking your browser before accessing the playground.</p>
<script>setTimeout(() => { document.cookie = "cf_chl_passed=1; path=/"; location.reload(); }, 800);</script>
</body></html>`;

const PAGE = `<!DOCTYPE html><html lang="en"><head><title>Workers AI LLM Playground</title></head>
<body><div id="root">Playground</div>
<script>setTimeout(() => { document.cookie = "${SCRIPT_COOKIE}=${SCRIPT_COOKIE_VALUE}; path=/; max-age=3600"; }, 400);</script>
</body></html>`;

function cookies(request: Request): Map<string, string> {
  const jar = new Map<string, string>();
  for (const part of (request.headers.get("Cookie") || "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) jar.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return jar;
}

function challenge(): Response {
  return new Response(INTERSTITIAL, {
    status: 403,
    headers: { "content-type": "text/html; charset=utf-8", "cf-mitigated": "challenge" }
  });
}

function gate(request: Request, mode: string): Response | null {
  const url = new URL(request.url);
  const jar = cookies(request);
  if (url.pathname === "/") {
    if (jar.get("cf_chl_passed") !== "1") return challenge();
    return new Response(PAGE, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "set-cookie": `${CLEARANCE}=${CLEARANCE_VALUE}; Path=/; HttpOnly; Max-Age=1800; SameSite=Lax`
      }
    });
  }
  if (url.pathname.startsWith("/agents/")) {
    const cleared =
      jar.get(CLEARANCE) === CLEARANCE_VALUE && jar.get(SCRIPT_COOKIE) === SCRIPT_COOKIE_VALUE;
    const upgrade = (request.headers.get("Upgrade") || "").toLowerCase() === "websocket";
    const fromPage = (request.headers.get("Sec-WebSocket-Extensions") || "").includes(
      "client_max_window_bits"
    );
    if (!cleared || (mode === "browser" && upgrade && !fromPage)) return challenge();
  }
  return null;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (env.GATE) {
      const refused = gate(request, env.GATE);
      if (refused) return refused;
    }
    return (
      (await routeAgentRequest(routedToVariant(request), env as never)) ||
      new Response("Not found", { status: 404 })
    );
  }
};
