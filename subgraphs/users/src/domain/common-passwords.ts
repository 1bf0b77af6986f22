/**
 * Frequently used passwords of 10 characters or more (shorter ones fail the length rule anyway),
 * from public breach corpora. Compared case-insensitively. A small list on purpose: it stops the
 * obvious guesses an attacker tries first without a large dependency.
 */
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set([
  '0000000000', '0123456789', '0987654321', '1111111111', '1122334455', '1234512345', '1234567890', '1234567891',
  '12345678910', '123456789a', '123456789q', '1234567890a', '1234qwerasdf', '123qweasdzxc', '1q2w3e4r5t', '1q2w3e4r5t6y',
  '1qaz2wsx3edc', 'a123456789', 'a1b2c3d4e5', 'aaaaaaaaaa', 'abc1234567', 'abcd123456', 'abcdefghij', 'administrator',
  'asdfghjkl1', 'asdfghjkl;', 'baseball123', 'basketball', 'changeme123', 'charlie123', 'chocolate1', 'computer123',
  'dragon1234', 'football123', 'football1234', 'iloveyou12', 'iloveyou123', 'letmein123', 'letmein1234', 'liverpool1',
  'master1234', 'michael123', 'monkey1234', 'passw0rd123', 'password01', 'password12', 'password123', 'password1234',
  'password12345', 'password!1', 'passwordpassword', 'pokemon123', 'princess12', 'princess123', 'qazwsxedc1', 'qazwsxedcrfv',
  'qwerty1234', 'qwerty12345', 'qwerty123456', 'qwertyuiop', 'qwertyuiop1', 'shadow1234', 'starwars12', 'sunshine12',
  'sunshine123', 'superman12', 'superman123', 'trustno123', 'trustno1234', 'welcome123', 'welcome1234', 'whatever12',
  'zaq12wsxcde', 'zxcvbnm123', 'zxcvbnmasd', 'shop123456', 'shoppassword', 'letmeinplease', 'mypassword1', 'mypassword123',
]);
