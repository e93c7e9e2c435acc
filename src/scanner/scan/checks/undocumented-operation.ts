import type { Operation } from '../../../core/api-document.ts';

/**
 * An operation-shaped place for a finding at a path the document does not have (an undocumented route, a listed
 * folder): its id is `METHOD path`, and it points at the documented operation it was found beside, if any.
 */
export function undocumentedOperation(
  path: string,
  near?: Operation,
  method: Operation['method'] = 'GET',
): Operation {
  return {
    id: `${method} ${path}`,
    hasDeclaredId: false,
    method,
    path,
    tags: [],
    deprecated: false,
    parameters: [],
    requestBody: undefined,
    responses: {},
    security: undefined,
    extensions: {},
    pointer: near?.pointer ?? '',
  };
}
