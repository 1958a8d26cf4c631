package routes

// readOnlyAccess are the bits of a function that changes nothing a client
// can see: reads of both tables, and its own rate-limit counter.
const readOnlyAccess = TableRead | OpsRead | RateCount

// ReadOnly reports whether a holds no permission beyond reading the data
// table and the operations table and counting calls: such a function's
// handler has no side effect, so the middleware may run it while the call
// is being counted and throw its answer away if the count turns out to be
// over the limit.
func (a Access) ReadOnly() bool { return a&^readOnlyAccess == 0 }
