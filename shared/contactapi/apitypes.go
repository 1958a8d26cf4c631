package contactapi

// TagsBody is the body of POST and DELETE /v1/contact/{contactId}/tags (named
// for the OpenAPI document, shared/routes/apidoc).
type TagsBody = tagsBody
