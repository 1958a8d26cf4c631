package adminapi

// TenantInput is what creating a tenant takes.
type TenantInput struct {
	Name string `json:"name"`
}

// TokenInput is what creating a channel token takes (the body is optional).
type TokenInput struct {
	Name string `json:"name"`
}
