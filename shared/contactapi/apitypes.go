package contactapi

// TagsBody is the body of POST and DELETE /v1/contact/{contactId}/tags (named
// for the OpenAPI document, shared/routes/apidoc).
type TagsBody = tagsBody

// FieldsBody is POST and PUT /v1/contact's body.
type FieldsBody = fieldsBody
