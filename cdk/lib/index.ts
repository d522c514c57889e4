export * from './app-config';
export * from './blue-green-app';
export * from './state-machine';
export * from './switcher';
