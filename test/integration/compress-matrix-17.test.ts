import { defineCompressionSuite } from './compress-suite.js';

defineCompressionSuite(17);
