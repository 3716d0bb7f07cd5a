export type { Batch, BatchOptions, Box, Dataset, DatasetInfo, Item, Split, SplitName } from './types.js';
export { SPLIT_NAMES, disposeBatch, sliceBatch } from './types.js';
export { boxArea, boxOfMask, boxesOverlap, clipBox } from './box.js';
export { makeSplit, UnreadableItemError, type ItemSource, type Pipeline } from './split.js';
export { TransformSpec, buildTransform, colorJitter, randomErase, transformedShape, type Transform } from './transforms/transforms.js';
export { cropItem, flipItem, resizeItem } from './transforms/item-geometry.js';
export {
  commonDatasetKeys,
  createDataset,
  DatasetWorkers,
  datasetFactory,
  datasetTypes,
  parseConfig,
  pipelineFor,
  registerDataset,
  type DatasetContext,
  type DatasetFactory,
} from './registry.js';
export { previewDataset, renderPreviewGrid, summarizeSplit, type DatasetSummary } from './preview.js';
export { KNOWN_DATASETS, probeDatasets, type DatasetProbe } from './probe.js';

// Loaders register themselves on import.
export { decodeFailureReason, decodeImage, fitGeometry, mapBoxes, ImageFit, ImageSize, ShorterSide, IMAGE_EXTENSIONS, type DecodeOptions, type DecodedImage, type FitGeometry, type SourceRegion } from './loaders/image-decode.js';
export { imageFolderDataset, ImageFolderConfig } from './loaders/image-folder.js';
export { cub200Dataset, Cub200Config, CUB200_FILES, cubClassName } from './loaders/cub200.js';
export { vocDataset, VocConfig, VOC_CLASSES, parseVocAnnotation, type VocAnnotation } from './loaders/voc.js';
export { parseIdx, readIdxGz, type IdxArray } from './loaders/idx.js';
export { fashionMnistDataset, FashionMnistConfig, FASHION_MNIST_FILES, FASHION_MNIST_CLASSES, DEFAULT_FASHION_MNIST_DIR } from './loaders/fashion-mnist.js';
export { clutteredDataset, ClutteredConfig, composeClutter, planClutter, type ClutterGeometry, type ClutterLayout } from './loaders/cluttered.js';
export { shapesDataset, ShapesConfig } from './loaders/shapes/shapes-dataset.js';
export { ATTRIBUTE_NAMES as SHAPES_ATTRIBUTE_NAMES, classPairs, distractorPairs } from './loaders/shapes/palette.js';
export { renderScene, type SceneObject } from './loaders/shapes/render.js';
export { checkShorterSide, listImageFiles } from './loaders/image-decode.js';
