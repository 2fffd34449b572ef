// Package subscriptions will deliver FHIR Subscription notifications: it reads the
// transactional outbox that storage writes with every change (table outbox, in seq
// order), publishes through RabbitMQ, and calls rest-hook and websocket subscribers at
// least once, with retries. It arrives with the subscriptions issue; today the outbox is
// written and nothing reads it.
package subscriptions
