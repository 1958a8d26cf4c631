package httpapi

// Envelope is the shape of every error and of the seed's message-only
// success answers: {"status":"error"|"success","message":…,"data":[]}.
type Envelope = envelope
