#!/usr/bin/env node
import { runPlugin } from '../../../specs/cni/skeleton.js';
import { bridgePlugin } from './bridge-plugin.js';

await runPlugin(bridgePlugin);
