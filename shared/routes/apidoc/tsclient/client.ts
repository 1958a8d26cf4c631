// A small client written against the types openapi-typescript generates
// from shared/routes/openapi.json (into schema.d.ts, not checked in). The
// Go test TestTypeScriptClientCompiles generates them and compiles this
// file with tsc --noEmit: a document a generated client cannot use fails.
import type { components, operations, paths } from "./schema";

type Contact = components["schemas"]["Contact"];
type ApiError = components["schemas"]["Error"];
type CreateContactBody = NonNullable<operations["contact-create"]["requestBody"]>["content"]["application/json"];
type CreateContactAnswer = operations["contact-create"]["responses"][200]["content"]["application/json"];
type SearchPage = paths["/v1/contact/by_custom_field"]["get"]["responses"][200]["content"]["application/json"];
type Replayed = operations["connection-replay"]["responses"][202]["content"]["application/json"];
type HookSamples = operations["hook-sample"]["responses"][200]["content"]["application/json"];
type NewConnection = operations["connection-create"]["responses"][201]["content"]["application/json"];

async function call<T>(base: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    const err = (await res.json()) as ApiError;
    throw new Error(`${res.status} ${err.message}`);
  }
  return (await res.json()) as T;
}

export async function createContact(base: string, token: string, firstName: string): Promise<string> {
  const body: CreateContactBody = { custom_fields: [{ name: "firstName", value: firstName }] };
  const answer = await call<CreateContactAnswer>(base, token, "POST", "/v1/contact", body);
  return answer.data.id;
}

export async function findByField(base: string, token: string, name: string, value: string): Promise<Contact[]> {
  const q = new URLSearchParams({ name, value });
  const page = await call<SearchPage>(base, token, "GET", `/v1/contact/by_custom_field?${q}`);
  const next: string | null = page.links.next;
  void next;
  return page.data;
}

export function tagsOf(c: Contact): string[] {
  return c.tags;
}

export function replayed(r: Replayed): boolean {
  return r.data.queued;
}

export function sampleEmails(s: HookSamples): (string | undefined)[] {
  return s.map((p) => p["email"]);
}

export function secretOf(c: NewConnection): string | undefined {
  return c.data.secret;
}
