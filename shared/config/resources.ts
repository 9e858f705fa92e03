import { z } from 'zod';
import resourcesJson from './resources.json';

const tableName = z.string().regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, 'Azure table name');
const containerName = z.string().regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'Azure blob container name');

export const resourcesSchema = z.object({
  containers: z.object({ datasets: containerName, reports: containerName, config: containerName }),
  tables: z.object({
    runs: tableName,
    models: tableName,
    intake: tableName,
    webhookSubscriptions: tableName,
    webhookDeliveries: tableName,
    notifications: tableName,
    teamKeys: tableName,
  }),
});

/** Container and table names: one definition for the code, the local runtime and Bicep. */
export const RESOURCES = resourcesSchema.parse(resourcesJson);
export const CONTAINERS = RESOURCES.containers;
export const TABLES = RESOURCES.tables;
