import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { json } from './http';
import type { UnityCatalogRoute } from './router';
import type { EmulatorState } from './state';

/** The Unity Catalog model registry calls: model versions, aliases and tags. */

function versionJson(state: EmulatorState, fullName: string, version: number) {
  const v = state.findVersion(fullName, version);
  if (!v) return undefined;
  const [catalog, schema, model] = fullName.split('.');
  const aliases = [...(state.aliases.get(fullName) ?? new Map<string, number>())]
    .filter(([, n]) => n === v.version)
    .map(([alias_name, version_num]) => ({ alias_name, version_num }));
  return {
    model_name: model,
    catalog_name: catalog,
    schema_name: schema,
    version: v.version,
    source: v.source,
    run_id: v.runId ?? null,
    status: state.versionStatus(v),
    storage_location: `abfss://uc@emulator.dfs.core.windows.net/models/${fullName}/${v.version}`,
    created_at: v.createdAtMs,
    updated_at: v.createdAtMs,
    aliases,
  };
}

export function unityCatalogRoute(state: EmulatorState, res: ServerResponse, route: UnityCatalogRoute, body: unknown) {
  const notFound = (what: string) =>
    json(res, 404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: `${what} does not exist.` });
  switch (route.operation) {
    case 'uc.getModelVersion': {
      const v = versionJson(state, route.model ?? '', route.version ?? 0);
      return v ? json(res, 200, v) : notFound(`Model version ${route.model}/${route.version}`);
    }
    case 'uc.listModelVersions': {
      const versions = state.modelVersions.get(route.model ?? '');
      if (!versions) return notFound(`Registered model ${route.model}`);
      return json(res, 200, { model_versions: versions.map((v) => versionJson(state, v.fullName, v.version)) });
    }
    case 'uc.setAlias': {
      const parsed = z.object({ version_num: z.number().int().positive() }).safeParse(body);
      if (!parsed.success)
        return json(res, 400, { error_code: 'INVALID_PARAMETER_VALUE', message: 'version_num is required.' });
      const fullName = route.model ?? '';
      if (!state.findVersion(fullName, parsed.data.version_num))
        return notFound(`Model version ${fullName}/${parsed.data.version_num}`);
      const aliases = state.aliases.get(fullName) ?? new Map<string, number>();
      aliases.set(route.alias ?? '', parsed.data.version_num);
      state.aliases.set(fullName, aliases);
      state.changed();
      const [catalog_name, schema_name, model_name] = fullName.split('.');
      return json(res, 200, {
        alias_name: route.alias,
        version_num: parsed.data.version_num,
        catalog_name,
        schema_name,
        model_name,
      });
    }
    case 'uc.setTag': {
      const parsed = z
        .object({
          name: z.string(),
          version: z.string().regex(/^\d+$/),
          key: z.string().min(1).max(250),
          value: z.string().max(5000),
        })
        .safeParse(body);
      if (!parsed.success)
        return json(res, 400, {
          error_code: 'INVALID_PARAMETER_VALUE',
          message: `Invalid set-tag request: ${parsed.error.issues[0]?.message}`,
        });
      const v = state.findVersion(parsed.data.name, Number(parsed.data.version));
      if (!v) return notFound(`Model version ${parsed.data.name}/${parsed.data.version}`);
      v.tags.set(parsed.data.key, parsed.data.value);
      state.changed();
      return json(res, 200, {});
    }
  }
}
