/** Lambda entry: backend management routes (connect sessions, connections, personal tokens). */
import { lambdaHandler } from './aws';
import { createAdminHandler } from './handlers/admin';

export const handler = lambdaHandler(createAdminHandler);
