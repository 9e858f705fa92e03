export * from './databricks';
export * from './http';
export * from './provider';
export * from './staging';
