export * from './api';
export * from './store';
export * from './sundial';
export * from './sundial-function';
export * from './sundial-stack';
export * from './task-tokens';
