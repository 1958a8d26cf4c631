package connections

// TriggerAutomation marks a delivery an automation's call_connection node
// made (shared/autorun): the contact's payload, sent to the connection
// as a trigger's would be. It is not one of Triggers, which a
// connection's API takes.
const TriggerAutomation Trigger = "automation"
