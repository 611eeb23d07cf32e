export * from './contributions';
export * from './currency';
export * from './customer';
export * from './mirror';
export * from './months';
export * from './reports';
export * from './settings';
export * from './stored-changes';
