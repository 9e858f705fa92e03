export * from './broker';
export * from './clock';
export * from './extension';
export * from './publisher';
export * from './store';
