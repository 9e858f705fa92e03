export * from './deliveryLog';
export * from './notice';
export * from './notifyTeams';
export * from './slack';
export * from './teams';
