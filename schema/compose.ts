/** `npm run compose`: composes the subgraphs and writes schema/supergraph.graphql. */
import { writeFileSync } from 'node:fs';
import { compose, SUPERGRAPH_FILE } from './composition';

const { supergraphSdl } = compose();
writeFileSync(SUPERGRAPH_FILE, supergraphSdl);
process.stdout.write(`wrote ${SUPERGRAPH_FILE}\n`);
