// The CLI's table of commands names every command each group module defines, and no other:
// a command added to a group but not to the table would be unreachable.
import { describe, expect, it } from 'vitest';
import { commandGroups, groupOf } from '../../client/commands/index';

describe('the command table', () => {
  it.each(Object.keys(commandGroups) as Array<keyof typeof commandGroups>)('lists exactly the commands of the %s group', async (group) => {
    const defined = Object.keys(await commandGroups[group]()).sort();
    const listed = Object.entries(groupOf)
      .filter(([, g]) => g === group)
      .map(([name]) => name)
      .sort();
    expect(listed).toEqual(defined);
  });
});
