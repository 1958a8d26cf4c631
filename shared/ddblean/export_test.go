package ddblean

// LeanCalls is how many calls took the lean path.
func (c *Client) LeanCalls() int64 { return c.leanCalls.Load() }
