/** Lambda entry: public routes (health, connect link, OAuth callback). */
import { lambdaHandler } from './aws';
import { publicRoutes } from './handlers/public';

export const handler = lambdaHandler(publicRoutes);
