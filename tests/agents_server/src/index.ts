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
type Env = { Playground: unknown; GATE?: string };

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
// Model catalog (shape of env.AI.models(); entries copied from the public
// Workers AI catalog the old playground shipped, abbreviated).

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
  ["@cf/meta/llama-3.3-70b-instruct-fp8-fast", "7a143886-c9bb-4a1c-be95-377b1973bc3b", 1, "2024-12-06 17:09:18.338", "Llama 3.3 70B quantized to fp8 precision, optimized to be faster.", { context_window: "24000", function_calling: "true" }],
  ["@cf/meta/llama-3.1-8b-instruct-fp8", "9b9c87c6-d4b7-494c-b177-87feab5904db", 1, "2024-07-25 17:28:43.328", "Llama 3.1 8B quantized to FP8 precision", { context_window: "32000" }],
  ["@cf/meta/llama-2-7b-chat-int8", "9c95c39d-45b3-4163-9631-22f0c0dc3b14", 1, "2023-09-25 19:21:11.898", "Quantized (int8) generative text model with 7 billion parameters from Meta", { context_window: "8192" }],
  ["@cf/meta/llama-2-7b-chat-fp16", "ca54bcd6-0d98-4739-9b3b-5c8b4402193d", 1, "2023-11-07 11:54:20.229", "Full precision (fp16) generative text model with 7 billion parameters from Meta", { context_window: "4096" }],
  ["@hf/meta-llama/meta-llama-3-8b-instruct", "1a7b6ad6-9987-4bd3-a329-20ee8de93296", 2, "2024-05-22 18:21:04.371", "Generation over generation, Meta Llama 3 demonstrates state-of-the-art performance.", { context_window: "8192" }],
  ["@cf/meta/llama-3.2-1b-instruct", "906a57fd-b018-4d6c-a43e-a296d4cc5839", 1, "2024-09-25 21:36:32.050", "The Llama 3.2 instruction-tuned text only models are optimized for multilingual dialogue use cases.", { context_window: "60000" }],
  ["@cf/meta/llama-3.2-3b-instruct", "d9dc8363-66f4-4bb0-8641-464ee7bfc131", 1, "2024-09-25 20:05:43.986", "The Llama 3.2 instruction-tuned text only models are optimized for multilingual dialogue use cases.", { context_window: "128000" }],
  ["@cf/meta/llama-3.2-11b-vision-instruct", "2cbc033b-ded8-4e02-bbb2-47cf05d5cfe5", 1, "2024-09-25 05:36:04.547", "The Llama 3.2-Vision instruction-tuned models are optimized for visual recognition.", { context_window: "128000", lora: "true" }],
  ["@cf/meta/llama-4-scout-17b-16e-instruct", "06455e78-19f7-487b-93cd-c05a3dd07813", 1, "2025-04-05 20:25:56.137", "Meta's Llama 4 Scout is a 17 billion parameter model with 16 experts that is natively multimodal.", { context_window: "131000", function_calling: "true" }],
  ["@cf/meta/llama-guard-3-8b", "cc80437b-9a8d-4f1a-9c77-9aaf0d226922", 1, "2025-01-22 23:26:23.495", "Llama Guard 3 is a Llama-3.1-8B pretrained model, fine-tuned for content safety classification.", { lora: "true" }],
  ["@hf/thebloke/mistral-7b-instruct-v0.1-awq", "980ec5e9-33c2-483a-a2d8-cd092fdf273f", 2, "2023-11-24 00:27:15.869", "Mistral 7B Instruct v0.1 AWQ is an efficient, accurate and blazing-fast low-bit weight quantized Mistral variant.", { beta: "true", context_window: "4096" }],
  ["@hf/mistral/mistral-7b-instruct-v0.2", "b97d7069-48d9-461c-80dd-445d20a632eb", 2, "2024-04-02 13:00:59.244", "The Mistral-7B-Instruct-v0.2 Large Language Model (LLM) is an instruct fine-tuned version of Mistral-7B-v0.2.", { beta: "true", context_window: "3072", lora: "true" }],
  ["@cf/mistralai/mistral-small-3.1-24b-instruct", "31690291-ebdc-4f98-bcfc-a44844e215b7", 1, "2025-03-18 03:28:37.890", "Building upon Mistral Small 3 (2501), Mistral Small 3.1 (2503) adds state-of-the-art vision understanding.", { context_window: "128000", function_calling: "true" }],
  ["@cf/google/gemma-3-12b-it", "053d5ac0-861b-4d3b-8501-e58d00417ef8", 1, "2025-03-18 03:58:02.423", "Gemma 3 models are well-suited for a variety of text generation and image understanding tasks.", { context_window: "80000", lora: "true" }],
  ["@hf/google/gemma-7b-it", "0f002249-7d86-4698-aabf-8529ed86cefb", 2, "2024-04-01 23:51:35.866", "Gemma is a family of lightweight, state-of-the-art open models from Google.", { beta: "true", context_window: "8192", lora: "true" }],
  ["@cf/qwen/qwen1.5-7b-chat-awq", "90a20ae7-7cf4-4eb3-8672-8fc4ee580635", 1, "2024-02-27 18:24:11.709", "Qwen1.5 is the improved version of Qwen, the large language model series developed by Alibaba Cloud.", { beta: "true", context_window: "20000" }],
  ["@cf/qwen/qwen2.5-coder-32b-instruct", "51b71d5b-8bc0-4489-a107-95e542b69914", 1, "2025-02-27 00:31:43.829", "Qwen2.5-Coder is the latest series of Code-Specific Qwen large language models.", { context_window: "32768", lora: "true" }],
  ["@cf/qwen/qwq-32b", "02c16efa-29f5-4304-8e6c-3d188889f875", 1, "2025-03-05 21:52:40.974", "QwQ is the reasoning model of the Qwen series.", { context_window: "24000", lora: "true" }],
  ["@cf/qwen/qwen3-30b-a3b-fp8", "00000000-0000-4000-8000-000000000301", 1, "2025-05-01 00:00:00.000", "Qwen3 is the latest generation of large language models in Qwen series.", { context_window: "32768", function_calling: "true" }],
  ["@cf/deepseek-ai/deepseek-r1-distill-qwen-32b", "ad01ab83-baf8-4e7b-8fed-a0a219d4eb45", 1, "2025-01-22 19:48:55.776", "DeepSeek-R1-Distill-Qwen-32B is a model distilled from DeepSeek-R1 based on Qwen2.5.", { context_window: "80000" }],
  ["@cf/deepseek-ai/deepseek-math-7b-instruct", "4c3a544e-da47-4336-9cea-c7cbfab33f16", 1, "2024-02-27 17:54:17.459", "DeepSeekMath-Instruct 7B is a mathematically instructed tuning model.", { beta: "true", context_window: "4096" }],
  ["@cf/openai/gpt-oss-120b", "f9f2250b-1048-4a52-9910-d0bf976616a1", 1, "2025-08-05 10:27:29.131", "OpenAI's open-weight models designed for powerful reasoning, agentic tasks, and versatile developer use cases.", { context_window: "128000", function_calling: "true" }],
  ["@cf/openai/gpt-oss-20b", "188a4e1e-253e-46d0-9616-0bf8c149763f", 1, "2025-08-05 10:49:53.265", "OpenAI's open-weight models designed for powerful reasoning, agentic tasks, and versatile developer use cases.", { context_window: "128000", function_calling: "true" }],
  ["@cf/zai-org/glm-4.7-flash", "00000000-0000-4000-8000-000000000302", 1, "2026-01-20 00:00:00.000", "GLM-4.7-Flash is a fast, lightweight model from Z.ai.", { context_window: "131072", function_calling: "true" }],
  ["@cf/moonshotai/kimi-k2.6", "00000000-0000-4000-8000-000000000303", 1, "2026-04-20 00:00:00.000", "Kimi K2.6 is a large mixture-of-experts model from Moonshot AI.", { context_window: "262144", function_calling: "true" }],
  ["@cf/microsoft/phi-2", "1d933df3-680f-4280-940d-da87435edb07", 1, "2024-02-27 18:26:21.126", "Phi-2 is a Transformer-based model with a next-word prediction objective.", { beta: "true", context_window: "2048" }],
  ["@cf/tiiuae/falcon-7b-instruct", "48dd2443-0c61-43b2-8894-22abddf1b081", 1, "2024-02-27 18:21:15.796", "Falcon-7B-Instruct is a 7B parameters causal decoder-only model built by TII.", { beta: "true", context_window: "4096" }],
  ["@hf/nousresearch/hermes-2-pro-mistral-7b", "44774b85-08c8-4bb8-8d2a-b06ebc538a79", 2, "2024-04-01 23:45:53.800", "Hermes 2 Pro on Mistral 7B is the new flagship 7B Hermes!", { beta: "true", context_window: "24000", function_calling: "true" }],
  ["@cf/tinyllama/tinyllama-1.1b-chat-v1.0", "bf6ddd21-6477-4681-bbbe-24c3d5423e78", 1, "2024-02-27 18:25:37.524", "The TinyLlama project aims to pretrain a 1.1B Llama model on 3 trillion tokens.", { beta: "true", context_window: "2048" }],
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

/** An error whose message is forwarded to the client verbatim (others become "An error occurred."). */
class ExposedError extends Error {
  exposed = true;
}

const RATE_LIMIT_BODY = JSON.stringify({
  message:
    "The model is currently rate limited. Please try again later or choose a different model.",
  details: "3021: rate limiting: too many requests for this model, please retry later"
});

const NO_USAGE = {
  inputTokens: { total: undefined, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: undefined, text: undefined, reasoning: undefined }
};

type StreamPart = Record<string, unknown> & { type: string };

/** Split text into deltas of about `size` characters, keeping whitespace with the word before it. */
function chunkText(text: string): string[] {
  const pieces = text.match(/\S+\s*|\s+/g) ?? [];
  const out: string[] = [];
  for (let i = 0; i < pieces.length; i += 2) out.push(pieces.slice(i, i + 2).join(""));
  return out;
}

function textOfUIMessage(m: UIMessage): string {
  return m.parts
    .map((p) => (p.type === "text" ? (p as { text: string }).text : ""))
    .join("");
}

type Script = {
  reasoning: string[];
  text: string[];
  /** thrown from doStream, before any stream part */
  throwBefore?: Error;
  /** emitted as a stream `error` part after the text deltas */
  errorAfter?: Error;
  delayMs: number;
  finishReason?: "stop" | "length";
};

const SAMPLE_VALUES: Record<string, unknown> = {
  integer: 3,
  number: 1.5,
  boolean: true,
  array: [],
  object: {}
};

function objectForSchema(instructions: string, userText: string): Record<string, unknown> {
  const quoted = instructions.split("JSON schema:\n")[1];
  let properties: Record<string, { type?: string }> = { echo: { type: "string" } };
  try {
    const schema = quoted ? JSON.parse(quoted.split("\n")[0]) : {};
    if (schema.properties) properties = schema.properties;
  } catch {
    // not a schema we can read: answer with the echo object
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(properties)) {
    const type = spec.type ?? "string";
    out[name] = type === "string" ? userText : SAMPLE_VALUES[type] ?? null;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The tool format (same model as tests/scripted_model.py `tool_reply`; change both together)
//
// A model that follows the client's prompt-based tool format: it picks tools by their names and
// fills the arguments their JSON schemas ask for with values from the request. Generic: no answer
// is keyed to a particular prompt.

const TOOLS_HEADING = "# How to call tools";
const SCHEMA_PREFIX = "Arguments JSON schema: ";
const CORRECTION = "Your last reply could not be used:";
const RESULT_STARTS = ["Tool result for ", "Tool error for "];
const RESULT_HEADER = /^Tool (?:result|error) for [^\n]*?\):[ \t]?([^\n]*)$/;
const NAMED_CHOICE = /You must call the tool "([^"\n]+)" now\./;
const REQUIRED_CHOICE = "You must call at least one tool now.";
// Test knobs in the request; the reference server strips the same ones, so that both servers
// take the same values from the rest of the text.
const TRIGGER =
  /\[(?:fenced|prose|bad-tool|bad-args|always-bad|reasoning|rate-limit|error-before-text|error-after-text|error:[^\]]*|empty|length|long:\d+|slow(?::\d+)?|repeat-newline|no-response|throw)\]/g;
// Boundaries are ASCII: "v2" holds no number, yet Chinese text puts numbers and names right
// next to other characters.
const NUMBER = /(?<![A-Za-z0-9_.])-?[0-9]+(?:\.[0-9]+)?/gu;
const WHOLE_NUMBER = /^-?[0-9]+(?:\.[0-9]+)?$/;
// An apostrophe inside a word ("What's") neither opens nor closes a quote.
const QUOTED = /(?<![A-Za-z0-9])'([^\n]+?)'(?![A-Za-z0-9])|"([^"\n]+?)"|“([^”\n]+?)”/gu;
const WORD = /[\p{L}\p{N}]+(?:['\u2019\-][\p{L}\p{N}]+)*/gu; // with O'Neill, Jean-Luc
const MAX_DEPTH = 8;
const BAD_TOOL = "no_such_tool";

type Schema = Record<string, unknown>;
type ToolSpec = { name: string; schema: Schema };
/** A value found in the request; each is used at most once per reply. */
type Found = { text: string; start: number; used: boolean };

function isSchema(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function has(schema: Schema, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(schema, key);
}

/** JSON as Python's json.dumps writes it (", " and ": "), so both servers send the same text. */
function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  if (isSchema(value)) {
    const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`);
    return `{${entries.join(", ")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * The scripted model's answer in the tool format, or null to answer as usual.
 *
 * `users` are the texts of the user messages, oldest first. Tool results get a plain answer
 * quoting them; a request gets a {"tool_calls": [...]} object for the tools it names (by their
 * full name, else by the words of one name), or for the first tool when a call is required.
 * After a correction ("Your last reply could not be used: ...") the request is the one before it.
 */
function toolReply(system: string, users: string[]): string | null {
  const lines = system.split("\n").map((line) => line.replace(/\r$/, ""));
  if (!lines.includes(TOOLS_HEADING)) return null;
  const last = users.length ? users[users.length - 1] : "";
  const results = toolResults(last);
  if (results !== null) return `The tool answered: ${results.join("; ")}.`;
  const correcting = last.startsWith(CORRECTION);
  let request = last;
  if (correcting) {
    request =
      [...users]
        .reverse()
        .find((text) => !text.startsWith(CORRECTION) && toolResults(text) === null) ?? "";
  }
  if (request.includes("[prose]")) return "I would rather answer in words.";
  const text = request.replace(TRIGGER, "").trim();
  const { tools, named, required } = toolSection(lines);
  let chosen = chooseTools(tools, text, named, required);
  const badTool =
    request.includes("[always-bad]") || (request.includes("[bad-tool]") && !correcting);
  if (!chosen.length && badTool && tools.length) chosen = tools.slice(0, 1);
  if (!chosen.length) return null;
  const values = new RequestValues(text, tools);
  const badArgs = request.includes("[bad-args]") && !correcting;
  let calls = chosen.map((tool) => ({
    name: tool.name,
    arguments: toolArguments(tool.schema, values, badArgs)
  }));
  if (badTool) calls = [{ name: BAD_TOOL, arguments: calls[0].arguments }];
  const payload = pythonJson({ tool_calls: calls });
  if (request.includes("[fenced]")) return `I will use a tool.\n\`\`\`json\n${payload}\n\`\`\`\n`;
  return payload;
}

/**
 * `system` with its tool section folded to "[tools: a, b]", for the echo. A model answering in
 * words does not repeat the call format, whose template a client would take for a broken call.
 */
function withoutToolSection(system: string): string {
  const lines = system.split("\n");
  const bare = lines.map((line) => line.replace(/\r$/, ""));
  const heading = bare.indexOf(TOOLS_HEADING);
  if (heading < 0) return system;
  const start = bare.slice(0, heading).lastIndexOf("# Tools");
  let end = bare.findIndex((line, i) => i > heading && line.startsWith("# "));
  if (end < 0) end = bare.length;
  const names = toolSection(bare).tools.map((tool) => tool.name).join(", ");
  return [...lines.slice(0, start < 0 ? heading : start), `[tools: ${names}]`, ...lines.slice(end)].join("\n");
}

/** The result texts of a tool-results message, or null for any other message. */
function toolResults(text: string): string[] | null {
  if (!RESULT_STARTS.some((start) => text.startsWith(start))) return null;
  const blocks: string[][] = [];
  for (const line of text.split("\n")) {
    const header = line.replace(/\r$/, "").match(RESULT_HEADER);
    if (header || !blocks.length) blocks.push(header && header[1] ? [header[1]] : []);
    else blocks[blocks.length - 1].push(line);
  }
  return blocks.map((block) => block.join("\n").trim());
}

/** The tools listed before the heading, the tool named by the choice, whether one is due. */
function toolSection(lines: string[]): { tools: ToolSpec[]; named: string | null; required: boolean } {
  const heading = lines.indexOf(TOOLS_HEADING);
  const tools: ToolSpec[] = [];
  let name: string | null = null;
  for (const line of lines.slice(0, heading)) {
    if (line.startsWith("## ")) {
      name = line.slice(3).trim();
    } else if (line.startsWith("#")) {
      name = null;
    } else if (name && line.startsWith(SCHEMA_PREFIX)) {
      let schema: unknown = {};
      try {
        schema = JSON.parse(line.slice(SCHEMA_PREFIX.length));
      } catch {
        schema = {};
      }
      tools.push({ name, schema: isSchema(schema) ? schema : {} });
      name = null;
    }
  }
  const rules = lines.slice(heading + 1).join("\n");
  const named = rules.match(NAMED_CHOICE);
  return { tools, named: named ? named[1] : null, required: rules.includes(REQUIRED_CHOICE) };
}

/** `text` as a whole word, in any case. */
function namePattern(text: string, flags = "iu"): RegExp {
  const escaped = text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  return new RegExp(`(?<![A-Za-z0-9_])${escaped}(?![A-Za-z0-9_])`, flags);
}

/** The words of a tool name of four letters or more: getWeatherNow -> weather. */
function nameWords(name: string): string[] {
  const spaced = name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2");
  const words = spaced
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => [...word].length >= 4)
    .map((word) => word.toLowerCase());
  return [...new Set(words)];
}

function chooseTools(
  tools: ToolSpec[],
  text: string,
  named: string | null,
  required: boolean
): ToolSpec[] {
  if (named !== null) {
    const tool = tools.find((t) => t.name === named);
    if (tool) return [tool];
  }
  const mentioned: [number, ToolSpec][] = [];
  for (const tool of tools) {
    const found = namePattern(tool.name).exec(text);
    if (found) mentioned.push([found.index, tool]);
  }
  if (mentioned.length) return mentioned.sort((a, b) => a[0] - b[0]).map(([, tool]) => tool);
  const lowered = text.toLowerCase();
  let best: ToolSpec | null = null;
  let bestScore = 0;
  for (const tool of tools) {
    const score = nameWords(tool.name).filter((word) => lowered.includes(word)).length;
    if (score > bestScore) {
      best = tool;
      bestScore = score;
    }
  }
  if (best) return [best];
  return required ? tools.slice(0, 1) : [];
}

/** The values a request offers, in order of appearance: quoted, capitalized, numbers. */
class RequestValues {
  quoted: Found[] = [];
  numbers: Found[];
  phrases: Found[];

  constructor(
    readonly text: string,
    tools: ToolSpec[]
  ) {
    const numbers: Found[] = [];
    // Quoted text and tool names are not also read as phrases or numbers.
    const masked = text.split("");
    const mask = (start: number, end: number) => {
      for (let i = start; i < end; i++) masked[i] = "\0";
    };
    const names = new Set(tools.map((tool) => tool.name.toLowerCase()));
    for (const match of text.matchAll(QUOTED)) {
      mask(match.index, match.index + match[0].length);
      const content = match[1] ?? match[2] ?? match[3];
      if (names.has(content.toLowerCase())) continue;
      const found: Found = { text: content, start: match.index, used: false };
      this.quoted.push(found);
      if (WHOLE_NUMBER.test(content)) numbers.push(found);
    }
    for (const tool of tools) {
      for (const match of text.matchAll(namePattern(tool.name, "giu"))) {
        mask(match.index, match.index + match[0].length);
      }
    }
    const plain = masked.join("");
    for (const match of plain.matchAll(NUMBER)) {
      numbers.push({ text: match[0], start: match.index, used: false });
    }
    this.numbers = numbers.sort((a, b) => a.start - b.start);
    this.phrases = capitalizedPhrases(plain);
  }

  take(pool: Found[]): string | null {
    const found = pool.find((f) => !f.used);
    if (!found) return null;
    found.used = true;
    return found.text;
  }

  mentions(value: string): boolean {
    return namePattern(value).test(this.text);
  }
}

/**
 * Runs of capitalized words joined by spaces or ", ": "San Francisco, CA". A sentence's first
 * word and "I" are capitalized by grammar, not as names: they do not count.
 */
function capitalizedPhrases(text: string): Found[] {
  const phrases: Found[] = [];
  let start: number | null = null;
  let end = 0;
  for (const match of text.matchAll(WORD)) {
    const word = match[0];
    const counts = /^\p{Uppercase}/u.test(word) && word !== "I" && !startsSentence(text, match.index);
    const gap = text.slice(end, match.index);
    if (counts && start !== null && (gap === " " || gap === ", ")) {
      end = match.index + word.length;
      continue;
    }
    if (start !== null) phrases.push({ text: text.slice(start, end), start, used: false });
    if (counts) {
      start = match.index;
      end = match.index + word.length;
    } else {
      start = null;
      end = 0;
    }
  }
  if (start !== null) phrases.push({ text: text.slice(start, end), start, used: false });
  return phrases;
}

function startsSentence(text: string, index: number): boolean {
  const before = text.slice(0, index);
  const trimmed = before.trimEnd();
  return !trimmed || (".!?".includes(trimmed[trimmed.length - 1]) && trimmed.length < before.length);
}

function toolArguments(schema: Schema, values: RequestValues, badArgs: boolean): Schema {
  const built = valueFor(schema, schema, values, true, badArgs, 0);
  return built && isSchema(built[0]) ? built[0] : {};
}

/** [value, taken from the request] for `schema`, or null to leave it out. */
function valueFor(
  original: Schema,
  root: Schema,
  values: RequestValues,
  required: boolean,
  badArgs: boolean,
  depth: number
): [unknown, boolean] | null {
  const schema = resolveSchema(original, root, 0);
  const kind = schemaType(schema);
  const numeric = kind === "integer" || kind === "number";
  if (has(schema, "const")) return required ? [schema.const, false] : null;
  const options = schema.enum;
  if (Array.isArray(options) && options.length) {
    for (const option of options) {
      if (values.mentions(typeof option === "string" ? option : JSON.stringify(option))) {
        return [badArgs && numeric ? "not a number" : option, true];
      }
    }
    if (!required) return null;
    return [badArgs && numeric ? "not a number" : options[0], false];
  }
  if (numeric) {
    const number = values.take(values.numbers);
    if (number === null && !required) return null;
    const value = number !== null ? toNumber(number, kind) : 0;
    return [badArgs ? "not a number" : value, number !== null];
  }
  if (kind === "boolean") return required ? [true, false] : null;
  if (kind === "array") return required ? [[], false] : null;
  if (kind === "null") return required ? [null, false] : null;
  if (kind === "object") {
    if (depth >= MAX_DEPTH) return required ? [{}, false] : null;
    const properties = isSchema(schema.properties) ? schema.properties : {};
    const needed = Array.isArray(schema.required) ? schema.required : [];
    const out: Schema = {};
    let taken = false;
    for (const [name, spec] of Object.entries(properties)) {
      const built = valueFor(
        isSchema(spec) ? spec : {},
        root,
        values,
        needed.includes(name),
        badArgs,
        depth + 1
      );
      if (built) {
        out[name] = built[0];
        taken = taken || built[1];
      }
    }
    return required || taken ? [out, taken] : null;
  }
  const text = values.take(values.quoted) ?? values.take(values.phrases);
  if (text !== null) return [text, true];
  return required ? [values.text, false] : null;
}

function toNumber(text: string, kind: string): number {
  if (kind === "integer" || !text.includes(".")) return Number(text.split(".")[0]);
  return Number(text);
}

function schemaType(schema: Schema): string {
  let kind = schema.type;
  if (Array.isArray(kind)) kind = kind.find((k) => k !== "null") ?? "null";
  if (typeof kind === "string") return kind;
  if (has(schema, "properties")) return "object";
  if (has(schema, "items")) return "array";
  return "string";
}

/** `schema` with local $ref followed and the first non-null branch of a union taken. */
function resolveSchema(original: Schema, root: Schema, depth: number): Schema {
  let schema = original;
  for (let i = 0; i < MAX_DEPTH; i++) {
    if (depth > MAX_DEPTH) break; // a schema that refers to itself
    const ref = schema.$ref;
    if (typeof ref === "string") {
      const { $ref: _, ...rest } = schema;
      schema = { ...(pointer(root, ref) ?? {}), ...rest };
      continue;
    }
    const union = [schema.anyOf, schema.oneOf, schema.allOf].find(
      (u) => Array.isArray(u) && u.length
    ) as unknown[] | undefined;
    if (union) {
      const branches = union.filter(isSchema);
      const pick =
        branches.find((b) => schemaType(resolveSchema(b, root, depth + 1)) !== "null") ??
        branches[0] ??
        {};
      const { anyOf: _a, oneOf: _o, allOf: _l, ...rest } = schema;
      schema = { ...rest, ...pick };
      continue;
    }
    break;
  }
  return schema;
}

/** The schema at a local reference such as #/$defs/Unit. */
function pointer(root: Schema, ref: string): Schema | null {
  if (!ref.startsWith("#")) return null;
  let node: unknown = root;
  for (const part of ref.slice(1).split("/").slice(1)) {
    const key = part.replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isSchema(node) || !has(node, key)) return null;
    node = node[key];
  }
  return isSchema(node) ? node : null;
}

function buildScript(state: PlaygroundState, messages: UIMessage[]): Script {
  const lastUser = [...messages].reverse().find((m) => m.role === "user");
  const userText = lastUser ? textOfUIMessage(lastUser) : "";
  const systemMsgs = messages
    .filter((m) => m.role === "system")
    .map(textOfUIMessage);
  const script: Script = { reasoning: [], text: [], delayMs: 0 };

  const echo =
    `Echo from the mock model.\n` +
    `model: ${state.model}\n` +
    `temperature: ${state.temperature}\n` +
    `system (state): ${withoutToolSection(state.system ?? "")}\n` +
    `system (messages): ${systemMsgs.length ? systemMsgs.map(withoutToolSection).join(" | ") : "(none)"}\n` +
    `messages: ${messages.length}\n` +
    `roles: ${messages.map((m) => m.role).join(",")}\n` +
    `last user: ${userText}`;
  script.text = chunkText(echo);

  // A model that follows the tool format (the client's prompt-based tool calling): a tool call
  // or an answer from tool results; null when it would answer in words, as below.
  const instructions = [state.system ?? "", ...systemMsgs].join("\n");
  const users = messages.filter((m) => m.role === "user").map(textOfUIMessage);
  const toolText = toolReply(instructions, users);
  if (toolText !== null) {
    script.text = chunkText(toolText);
  } else if (instructions.includes("Answer with one JSON object")) {
    // A model that follows JSON instructions (as the client's structured output asks for them):
    // one object, shaped by the JSON schema quoted in the system prompt when there is one.
    script.text = chunkText(JSON.stringify(objectForSchema(instructions, userText)));
  }

  if (!CHAT_MODEL_IDS.has(state.model)) {
    script.throwBefore = new ExposedError("5007: No such model");
    return script;
  }

  const isReasoningModel = /qwq|deepseek-r1/.test(state.model);
  if (isReasoningModel || userText.includes("[reasoning]")) {
    script.reasoning = chunkText(
      `Let me think about this. The user wrote ${JSON.stringify(userText)}. I should answer with an echo.`
    );
  }

  let m: RegExpMatchArray | null;
  if (userText.includes("[error-before-text]")) {
    script.throwBefore = new Error("scripted failure before any text");
  } else if (userText.includes("[rate-limit]")) {
    script.throwBefore = new ExposedError(RATE_LIMIT_BODY);
  } else if ((m = userText.match(/\[error:([^\]]*)\]/))) {
    script.throwBefore = new ExposedError(m[1]);
  } else if (userText.includes("[error-after-text]")) {
    script.text = ["Partial ", "answer ", "before ", "the ", "failure"];
    script.errorAfter = new Error("scripted failure after some text");
  } else if (userText.includes("[empty]")) {
    script.reasoning = [];
    script.text = [];
  } else if ((m = userText.match(/\[long:(\d+)\]/))) {
    const n = Math.min(Number(m[1]), 1_000_000);
    script.text = Array.from({ length: n }, (_, i) => `t${i} `);
  } else if (userText.includes("[length]")) {
    script.finishReason = "length";
  }
  if ((m = userText.match(/\[slow(?::(\d+))?\]/))) {
    script.delayMs = m[1] !== undefined ? Number(m[1]) : 3000;
    // In the tool format the reply is slowed down, not replaced: a slow tool call.
    if (toolText === null) script.text = ["Slow ", "reply, ", "done."];
  }
  if (userText.includes("[repeat-newline]")) {
    // Identical consecutive deltas must all be kept by a client.
    script.text = ["a", "\n", "\n", "b"];
  }
  return script;
}

/** Like simulateReadableStream, but waits `delayMs` only before each text/reasoning delta. */
function delayedDeltas(parts: StreamPart[], delayMs: number): ReadableStream<never> {
  let i = 0;
  return new ReadableStream({
    async pull(controller) {
      if (i >= parts.length) return controller.close();
      const part = parts[i++];
      if (part.type.endsWith("-delta")) await new Promise((r) => setTimeout(r, delayMs));
      controller.enqueue(part as never);
    }
  });
}

function scriptedModel(script: Script, modelId: string) {
  return new MockLanguageModelV3({
    provider: "workers-ai.mock",
    modelId,
    doStream: async () => {
      if (script.throwBefore) throw script.throwBefore;
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
        parts.push({ type: "error", error: script.errorAfter });
      } else {
        const unified = script.finishReason ?? "stop";
        parts.push({ type: "finish", finishReason: { unified, raw: unified }, usage: NO_USAGE });
      }
      // biome-ignore lint: the mock's stream part type is structural
      const chunks = parts as never[];
      return {
        stream:
          script.delayMs > 0
            ? delayedDeltas(parts, script.delayMs)
            : simulateReadableStream({ chunks })
      };
    }
  });
}

// ---------------------------------------------------------------------------
// Agent

export class Playground extends AIChatAgent<Env, PlaygroundState> {
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

  @callable()
  async setConfig(config: ConfigUpdate) {
    const next: PlaygroundState = { ...this.state };
    if (config && typeof config === "object") {
      if (typeof config.model === "string") next.model = config.model;
      if (typeof config.temperature === "number") next.temperature = config.temperature;
      if (typeof config.stream === "boolean") next.stream = config.stream;
      if (typeof config.system === "string") next.system = config.system;
    }
    this.setState(next);
  }

  async onChatMessage(
    onFinish: unknown,
    options?: { abortSignal?: AbortSignal; requestId?: string }
  ): Promise<Response | undefined> {
    const state = this.state;
    const messages = this.messages as UIMessage[];
    const lastUser = [...messages].reverse().find((m) => m.role === "user");
    const userText = lastUser ? textOfUIMessage(lastUser) : "";

    if (userText.includes("[no-response]")) return undefined;
    if (userText.includes("[throw]")) throw new Error("scripted exception in onChatMessage");

    const script = buildScript(state, messages);
    const result = streamText({
      model: scriptedModel(script, state.model),
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
      (await routeAgentRequest(request, env as never)) ||
      new Response("Not found", { status: 404 })
    );
  }
};
