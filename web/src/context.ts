import type { Membership, Session } from './api';
import type { Visibility } from './redaction';

/** What a workspace page knows: who is looking, where, and how to move on. */
export interface PageContext {
  session: Session;
  membership: Membership;
  visibility: Visibility;
  /** Path under the workspace, e.g. "drafts/dr_1", and the query string. */
  rest: string[];
  query: URLSearchParams;
  navigate(path: string): void;
  /** /workspaces/<id> for API calls. */
  apiBase: string;
  /** /w/<id> for page links. */
  pageBase: string;
}
