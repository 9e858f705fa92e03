export * from './active';
export * from './broker';
export * from './clock';
export * from './extension';
export * from './open';
export * from './publisher';
export * from './store';
