-- In-process fan-out (careslot without RabbitMQ): how far each subscription's events
-- have been delivered. NULL: its notifications go through RabbitMQ, whose queues hold
-- what is not delivered yet; a number: they are delivered in-process, and the events
-- after it are still to go.
ALTER TABLE subscription_state ADD COLUMN delivered bigint;
