export * from './cloudEvent';
export * from './publisher';
export * from './schemas';
export * from './topology';
export * from './types';
