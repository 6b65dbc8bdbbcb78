import { combineSuite } from './combine-support.js';

combineSuite(18);
