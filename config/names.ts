// What names look like: tools, pipelines, steps and client ids share one pattern; label keys have their own.
// Checked where they enter (config, tokens, submissions) and where they are matched (list filters).
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
export const NAME_RULE = 'letters, digits, _ and -, starting with a letter';
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
