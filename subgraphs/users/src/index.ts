export { usersService } from './service';
