/** The event stream: state changes as topic events, from the backend's revision log. */
export { subscribeEvents, parseTopics, IndexCompactedError, TOPICS, type Topic, type TopicFilter, type StreamEvent, type StreamFrame, type Subscription } from './event-stream.ts';
