// Search attributes that list jobs by client, tool/pipeline, state and label. They must be registered on the
// namespace (jobs/search-attributes.ts does that at worker and API start).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const CLIENT_KEY = defineSearchAttributeKey('LonghaulClient', SearchAttributeType.KEYWORD);
export const TOOL_KEY = defineSearchAttributeKey('LonghaulTool', SearchAttributeType.KEYWORD);
export const PIPELINE_KEY = defineSearchAttributeKey('LonghaulPipeline', SearchAttributeType.KEYWORD);
export const STATE_KEY = defineSearchAttributeKey('LonghaulState', SearchAttributeType.KEYWORD);
/** When the job was submitted: stays the same across continue-as-new, unlike StartTime. */
export const CREATED_KEY = defineSearchAttributeKey('LonghaulCreated', SearchAttributeType.DATETIME);
/** Labels as "key=value" strings. */
export const LABELS_KEY = defineSearchAttributeKey('LonghaulLabels', SearchAttributeType.KEYWORD_LIST);

export const SEARCH_ATTRIBUTE_KEYS = [CLIENT_KEY, TOOL_KEY, PIPELINE_KEY, STATE_KEY, CREATED_KEY, LABELS_KEY];
