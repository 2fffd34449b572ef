// Package subscriptions delivers FHIR Subscription notifications. It reads the
// transactional outbox that storage writes with every change, relays it to RabbitMQ in
// commit order per resource with publisher confirms, matches each change against the
// live Subscriptions with the search engine's own SQL (storage.Matcher), numbers the
// events of each subscription, and delivers them to rest-hook and websocket subscribers
// at least once, from a durable queue per subscription, retrying with growing delays
// (dead-letter exchanges with a TTL) and parking what still fails in a dead-letter queue.
// It also sends appointment reminders and heartbeats.
//
// It sits behind storage: nothing in a request path calls into it, except the websocket
// endpoint, which fhir serves through the handler app gives it. It never imports fhir,
// resources or app; subscriptions/subscription (the parsed Subscription, the topics and
// the endpoint check) is the leaf it shares with them.
package subscriptions
