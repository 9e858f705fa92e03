export * from './server';
export * from './state';
