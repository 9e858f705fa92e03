/**
 * The validator's error and warning codes: the one source of truth. docs/validation.md lists the
 * same codes; test/unit/datasets/codes.test.ts keeps the two in step.
 */
export const ERROR_CODES = {
  invalid_utf8: 'The line (or file) is not valid UTF-8.',
  invalid_json: 'The line is not valid JSON (or is longer than the line limit).',
  not_object: 'The line is JSON but not an object.',
  unknown_key:
    'The row has a key the task does not allow (chat: only "messages"; instruction: "prompt" plus one of "response"/"completion").',
  missing_messages: 'A chat row has no "messages" array.',
  too_few_messages: 'A chat row needs more than one message.',
  invalid_message: 'A message is not an object with exactly "role" and "content".',
  invalid_role: 'A message role is not one of system, user, assistant.',
  content_not_string: 'A message content (or prompt/response) is not a string.',
  empty_content: 'A message content (or prompt/response) is empty or only whitespace.',
  system_not_first: 'A system message appears after the first message.',
  system_not_supported: 'The model (Mistral, Mixtral) has no system role.',
  consecutive_roles: 'Two consecutive messages have the same role.',
  last_not_assistant: 'The last message is not from the assistant.',
  missing_prompt: 'An instruction row has no "prompt".',
  missing_response: 'An instruction row has neither "response" nor "completion".',
  empty_text: 'A continued-pretraining file contains only whitespace.',
  empty_file: 'A file (or the dataset) has no rows / no bytes.',
  wrong_extension: 'Chat and instruction data must be .jsonl; continued pretraining a folder of .txt files.',
  model_not_supported: 'The model is not in the catalog.',
  model_retired: 'The model was retired for fine-tuning.',
  context_length_too_large: "The requested context length exceeds the model's maximum.",
  region_not_supported: 'The region does not run the fine-tuning service.',
  too_many_tokens: 'The dataset has 10 billion tokens or more.',
  insufficient_tokens:
    'Chat and instruction training data (train files only) has fewer tokens than one full context length of the run.',
  task_not_offered: "The model's training provider does not offer the task (Azure OpenAI: chat only).",
  invalid_weight: 'A message "weight" is not 0 or 1, or is on a message that is not from the assistant.',
  invalid_tool_call:
    'An assistant "tool_calls"/"function_call" entry is malformed, or a tool message answers no earlier tool call.',
  invalid_tools: 'The row\'s "tools"/"functions" definitions are not an array of function definitions.',
  too_few_examples: 'The training file has fewer examples than the provider requires (Azure OpenAI: 10).',
  file_too_large: 'A data file is larger than the provider accepts (Azure OpenAI: 512 MB).',
} as const;

export const WARNING_CODES = {
  exceeds_context_length: 'The row is longer than the effective context length and will be truncated.',
  no_trainable_tokens: 'After truncation the row has no assistant/response tokens left; the service silently drops it.',
  below_recommended_tokens:
    "Chat and instruction: the training data is below one full context length of the model (the page's recommendation); continued pretraining: below 1.5 million tokens.",
  epochs_outside_recommended:
    'The epochs (given, or derived from trainingDuration: Nep, or Ntok through the training tokens) are outside the recommended 1–4.',
  duplicate_examples: 'The row is byte-for-byte identical to an earlier row.',
  file_size_outside_recommended:
    'Continued-pretraining files are best 60–256 MB; files over 1 GB process slowly (decimal units, as the page).',
  special_token_in_content:
    "The text contains one of the model's special-token strings (e.g. Llama 3's end-of-turn token); it counts as that token.",
  blank_lines: 'The file has blank lines between rows; they are skipped.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
export type WarningCode = keyof typeof WARNING_CODES;
export type IssueCode = ErrorCode | WarningCode;

export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];
export const WARNING_CODE_LIST = Object.keys(WARNING_CODES) as WarningCode[];
