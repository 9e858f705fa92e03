/** A drop is committed by its manifest, uploaded last: datasets/{team}/{dataset}/run.json. */
export const MANIFEST_NAME = 'run.json';

export const datasetNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
