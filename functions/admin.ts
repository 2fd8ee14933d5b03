/** Lambda entry: backend management routes (connect sessions, connections, personal tokens). */
import { lambdaHandler } from './aws';
import { adminRoutes } from './handlers/admin';

export const handler = lambdaHandler(adminRoutes);
