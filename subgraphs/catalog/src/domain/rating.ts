import { badUserInput } from '@shop/platform';

export const MIN_RATING = 1;
export const MAX_RATING = 5;
/** Longest review comment, in characters. */
export const MAX_COMMENT_LENGTH = 2000;

/** The average rating rounded to two decimals, or null without reviews. */
export function averageRating(ratingSum: number, reviewCount: number): number | null {
  return reviewCount > 0 ? Math.round((ratingSum / reviewCount) * 100) / 100 : null;
}

/** A review's rating: an integer from 1 to 5, else BAD_USER_INPUT on `rating`. */
export function validateRating(rating: number): number {
  if (!Number.isInteger(rating) || rating < MIN_RATING || rating > MAX_RATING) {
    throw badUserInput('rating', `rating must be an integer from ${MIN_RATING} to ${MAX_RATING}.`);
  }
  return rating;
}

/** A review's comment, trimmed; empty becomes null; longer than 2000 characters is BAD_USER_INPUT on `comment`. */
export function validateComment(comment: string | null | undefined): string | null {
  const text = comment?.trim() ?? '';
  if ([...text].length > MAX_COMMENT_LENGTH) throw badUserInput('comment', `comment must be at most ${MAX_COMMENT_LENGTH} characters.`);
  return text === '' ? null : text;
}
